from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from poa_backend.core.message import Message
from poa_backend.core.signals import DeliveryRefused
from receivers import out_of_band
from receivers.dispatch import dispatcher
from receivers.models import DeadLetter, EthereumStatistics, Receiver, SystemStatistics


class OutOfBandForm(forms.Form):
    payload = forms.JSONField(help_text="Any JSON value; each receiver's handle_out_of_band gets it.")


@admin.register(Receiver)
class ReceiverAdmin(admin.ModelAdmin):
    """Rows plus the live figures of this process's running receivers."""

    list_display = [
        "name",
        "class_path",
        "enabled",
        "subscriptions",
        "delivered",
        "failures",
        "dropped",
        "queue_depth",
        "delivery",
        "figures",
        "last_error",
    ]
    list_filter = ["enabled", "metric_types"]
    search_fields = ["name", "class_path"]
    filter_horizontal = ["metric_types"]
    actions = ["send_out_of_band"]

    def get_queryset(self, request):  # noqa: ANN001, ANN201
        return super().get_queryset(request).prefetch_related("metric_types")

    @admin.display(description="subscribed to")
    def subscriptions(self, row: Receiver) -> str:
        return ", ".join(metric_type.name for metric_type in row.metric_types.all()) or "-"

    def _figure(self, row: Receiver, name: str) -> object:
        running = dispatcher.get(row.name)
        if running is None:
            return "not running"
        return getattr(running.stats, name)

    @admin.display(description="delivered")
    def delivered(self, row: Receiver) -> object:
        return self._figure(row, "delivered")

    @admin.display(description="failures")
    def failures(self, row: Receiver) -> object:
        return self._figure(row, "failures")

    @admin.display(description="dropped (queue full)")
    def dropped(self, row: Receiver) -> object:
        return self._figure(row, "dropped")

    @admin.display(description="queue depth")
    def queue_depth(self, row: Receiver) -> object:
        running = dispatcher.get(row.name)
        return running.queue.qsize() if running else "-"

    @admin.display(description="delivery (this process)")
    def delivery(self, row: Receiver) -> str:
        """Spool depth and bytes, oldest undelivered age, retries, dead letters, refusals."""
        running = dispatcher.get(row.name)
        if running is None:
            return "-"
        return ", ".join(f"{name} {value:g}" for name, value in running.figures().items())

    @admin.action(description="Send an out-of-band message to the selected receivers")
    def send_out_of_band(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks for a JSON payload, then hands it to each selected receiver's handle_out_of_band."""
        names = sorted(queryset.values_list("name", flat=True))
        form = OutOfBandForm(request.POST if "payload" in request.POST else None)
        if form.is_valid():
            out_of_band.send(form.cleaned_data["payload"], names)
            self.message_user(request, f"Out-of-band message sent to {', '.join(names)}.")
            return None
        return TemplateResponse(
            request,
            "admin/receivers/receiver/out_of_band.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Send an out-of-band message",
                "form": form,
                "names": names,
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            },
        )

    @admin.display(description="figures")
    def figures(self, row: Receiver) -> str:
        running = dispatcher.get(row.name)
        figures = running.instance.figures() if running else {}
        return ", ".join(f"{name} {value:g}" for name, value in figures.items()) or "-"

    @admin.display(description="last error")
    def last_error(self, row: Receiver) -> str:
        running = dispatcher.get(row.name)
        if running is None or not running.stats.last_error:
            return "-"
        at = datetime.fromtimestamp(running.stats.last_error_at, tz=UTC)
        return f"{at:%Y-%m-%d %H:%M:%S} UTC: {running.stats.last_error}"


class StatisticsAdmin(admin.ModelAdmin):
    """Stored reports are a record of what agents sent: listed and filtered, never edited here."""

    list_filter = ["agent_id"]
    date_hierarchy = "date"
    search_fields = ["agent_id"]
    ordering = ["-date"]
    list_per_page = 100
    # Counting a large table on every page is slow; "show all" is not offered either.
    show_full_result_count = False
    list_max_show_all = 0

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(EthereumStatistics)
class EthereumStatisticsAdmin(StatisticsAdmin):
    list_display = [
        "date",
        "agent_id",
        "active",
        "mining",
        "hashrate",
        "peers",
        "gas_price",
        "current_block",
        "highest_block",
        "starting_block",
    ]


@admin.register(SystemStatistics)
class SystemStatisticsAdmin(StatisticsAdmin):
    list_display = ["date", "agent_id", "cpu_load", "disk_usage", "memory_usage"]


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """Messages a sink refused, with its error; "replay" hands them to their receiver again."""

    list_display = ["created_at", "receiver", "agent_id", "data_type", "error"]
    list_filter = ["receiver", "data_type"]
    search_fields = ["agent_id", "error"]
    readonly_fields = ["created_at", "receiver", "agent_id", "data_type", "message", "error"]
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    @admin.action(description="Replay the selected dead letters (hand them to their receiver again)")
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Each letter goes back into its receiver's spool in this process and is deleted here;
        should the sink refuse it again, it comes back as a new dead letter."""
        replayed, not_running = 0, set()
        for letter in queryset.order_by("created_at"):
            try:
                if dispatcher.replay(letter.receiver, [Message(**letter.message)]):
                    letter.delete()
                    replayed += 1
                else:
                    not_running.add(letter.receiver)
            except DeliveryRefused as exc:
                self.message_user(request, f"Stopped: {exc}", messages.ERROR)
                break
        self.message_user(request, f"{replayed} dead letters replayed.")
        if not_running:
            self.message_user(
                request, f"Not running in this process: {', '.join(sorted(not_running))}.", messages.WARNING
            )
