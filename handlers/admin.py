from django.contrib import admin

from handlers.models import CustomHandler
from poa_backend.plugins import listener_from_options


@admin.register(CustomHandler)
class CustomHandlerAdmin(admin.ModelAdmin):
    list_display = ["name", "class_path", "enabled", "listener", "updated_at"]
    list_filter = ["enabled"]
    list_editable = ["enabled"]
    search_fields = ["name", "class_path"]

    @admin.display(description="listener")
    def listener(self, row: CustomHandler) -> str:
        listener = listener_from_options(row.options)
        return listener.url if listener else "-"
