"""The site's own routes; plug-ins add theirs in front (see poa_backend/routing.py)."""

from django.contrib import admin
from django.urls import path

from poa_backend.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
]

handler404 = "poa_backend.views.not_found"
handler500 = "poa_backend.views.server_error"
