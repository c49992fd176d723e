from django.contrib import admin

from receivers.dispatch import dispatcher
from receivers.models import Receiver


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
        "last_error",
    ]
    list_filter = ["enabled", "metric_types"]
    search_fields = ["name", "class_path"]
    filter_horizontal = ["metric_types"]

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

    @admin.display(description="last error")
    def last_error(self, row: Receiver) -> object:
        return self._figure(row, "last_error") or "-"
