"""The OpenAPI description of every HTTP endpoint, at ``/api/schema/`` (docs at ``/api/docs/``).

Plug-in routes are not in ``ROOT_URLCONF``: each request gets a URLconf built from the
enabled plug-ins (poa_backend/routing.py), so the schema is generated from that one and
lists exactly what the server serves right now. Each plug-in describes its own views
(``@extend_schema``) and authentication classes (drf-spectacular extensions) beside them.
"""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

from poa_backend.routing import current_urlconf


class SchemaView(SpectacularAPIView):
    """OpenAPI 3 schema (YAML; ``?format=json`` for JSON) of the routes served now."""

    def _get_schema_response(self, request: Request) -> Response:
        self.urlconf = current_urlconf()
        return super()._get_schema_response(request)


class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema; its assets come from drf-spectacular-sidecar, never a CDN."""

    url_name = "schema"
