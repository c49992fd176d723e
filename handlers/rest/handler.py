"""The REST custom handler: the plug-in a ``CustomHandler`` row names (seeded as ``rest`` on HTTP 4002)."""

from django.urls import URLPattern, path

from handlers.base import CustomHandler
from handlers.rest.views import ByeView, DataView, PingView


class RestHandler(CustomHandler):
    """Serves the three agent calls; ``/data`` goes to the receivers, ``/ping`` and ``/bye`` to presence."""

    def http_urls(self) -> list[URLPattern]:
        return [
            path("ping", PingView.as_view(handler=self), name="poa-ping"),
            path("data", DataView.as_view(handler=self), name="poa-data"),
            path("bye", ByeView.as_view(handler=self), name="poa-bye"),
        ]
