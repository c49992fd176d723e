"""Static assets (admin, API docs, dashboard page) served by the backend itself.

``runbackend`` has no separate web server in front, so the apps' ``static/``
directories are served from here, found the way ``collectstatic`` would find them.
"""

import posixpath
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.views.static import serve


def serve_static(request: HttpRequest, path: str) -> HttpResponse:
    """One file from the static finders; unknown or outside paths are 404."""
    normalized = posixpath.normpath(path).lstrip("/")
    try:
        found = finders.find(normalized)
    except SuspiciousFileOperation:
        found = None
    if not found or normalized.startswith(".."):
        raise Http404(path)
    location = Path(found)
    response = serve(request, location.name, document_root=str(location.parent))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
