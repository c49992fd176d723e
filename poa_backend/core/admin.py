from django.contrib import admin

from poa_backend.core.models import MetricType


@admin.register(MetricType)
class MetricTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
