"""The WebSocket custom handler: agents speak the POA Protocol over one long-lived socket."""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import URLPattern, path

from handlers.base import CustomHandler

DEFAULT_PATH = "/agent"
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


class AgentSocketHandler(CustomHandler):
    """Serves the agent socket at ``options["path"]`` (default ``/agent``) on every listener.

    Options: the listener keys (``scheme``, ``host``, ``port``, ...) and ``path``.
    """

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        options.setdefault("path", DEFAULT_PATH)
        if not _PATH.fullmatch(options["path"]):
            raise ValidationError('path: must start with "/" and hold only letters, digits and . _ ~ / -')
        return options

    def websocket_urls(self) -> list[URLPattern]:
        from handlers.websocket.consumer import AgentSocketConsumer

        route = self.options["path"].lstrip("/")
        return [path(route, AgentSocketConsumer.as_asgi(handler=self), name=f"{self.name}-socket")]
