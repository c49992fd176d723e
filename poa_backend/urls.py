"""The site's own routes; plug-ins add theirs in front (see poa_backend/routing.py)."""

from django.contrib import admin
from django.urls import include, path, re_path

from poa_backend.admin_login import admin_login
from poa_backend.core.health import healthz
from poa_backend.core.metrics import metrics_view
from poa_backend.openapi import DocsView, SchemaView
from poa_backend.staticfiles import serve_static

urlpatterns = [
    path("admin/login/", admin_login),  # in front of the admin's own, which it calls
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(), name="api-docs"),
    path("api/", include("receivers.api.urls")),
    re_path(r"^static/(?P<path>.+)$", serve_static, name="static"),
]

handler404 = "poa_backend.views.not_found"
handler500 = "poa_backend.views.server_error"
