"""The REST custom handler: the plug-in a ``HandlerPlugin`` row names (seeded as ``rest`` on HTTP 4002)."""

from django.urls import URLPattern, path

from handlers.rest.views import ByeView, DataView, PingView
from poa_backend.core.handler import HandlerPlugin


class RestHandler(HandlerPlugin):
    """Serves the three agent calls; ``/data`` goes to the receivers, ``/ping`` and ``/bye`` to presence."""

    def http_urls(self) -> list[URLPattern]:
        return [
            path("ping", PingView.as_view(handler=self), name="poa-ping"),
            path("data", DataView.as_view(handler=self), name="poa-data"),
            path("bye", ByeView.as_view(handler=self), name="poa-bye"),
        ]
