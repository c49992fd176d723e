"""The site's own routes; plug-ins add theirs in front (see poa_backend/routing.py)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]

handler404 = "poa_backend.views.not_found"
handler500 = "poa_backend.views.server_error"
