"""Rules, destinations and silences are edited here; states, events and deliveries are a record."""

from django.contrib import admin

from receivers.alerts.models import (
    AlertDestination,
    AlertEvent,
    AlertRule,
    AlertState,
    Delivery,
    DeliveryAttempt,
    Silence,
)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "threshold", "for_seconds", "severity", "nodes", "enabled"]
    list_filter = ["enabled", "kind", "severity"]
    list_editable = ["enabled"]
    search_fields = ["name", "description"]


@admin.register(AlertDestination)
class AlertDestinationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "url", "enabled", "max_attempts"]
    list_filter = ["enabled", "kind"]
    list_editable = ["enabled"]


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "rule", "node", "starts_at", "ends_at", "comment"]
    list_filter = ["rule"]
    search_fields = ["node", "comment"]


class RecordAdmin(admin.ModelAdmin):
    """What happened: listed and filtered, never edited by hand."""

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(AlertState)
class AlertStateAdmin(RecordAdmin):
    list_display = ["rule", "node", "state", "since", "fired_at", "value", "summary"]
    list_filter = ["state", "rule"]
    search_fields = ["node"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["destination", "status", "attempts", "delivered_at", "next_attempt_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(AlertEvent)
class AlertEventAdmin(RecordAdmin):
    list_display = ["at", "rule", "node", "kind", "value", "silenced", "summary"]
    list_filter = ["kind", "rule", "silenced"]
    search_fields = ["node", "summary"]
    date_hierarchy = "at"
    inlines = [DeliveryInline]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["at", "ok", "status_code", "seconds", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    list_display = ["event", "destination", "status", "attempts", "delivered_at", "last_error"]
    list_filter = ["status", "destination"]
    inlines = [AttemptInline]
