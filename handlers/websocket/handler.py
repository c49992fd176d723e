"""The WebSocket custom handler: agents speak the POA Protocol over one long-lived socket."""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import URLPattern, path

from poa_backend.core.handler import HandlerPlugin

DEFAULT_PATH = "/agent"
#: Seconds between re-checks of an open socket's token (a ban or deactivation closes it).
DEFAULT_RECHECK_INTERVAL = 30
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


class AgentSocketHandler(HandlerPlugin):
    """Serves the agent socket at ``options["path"]`` (default ``/agent``) on its listener.

    Options: the listener keys (``scheme``, ``host``, ``port``, ...), ``path``, and
    ``recheck_interval`` (seconds between re-checks of an open socket's token).
    """

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        options.setdefault("path", DEFAULT_PATH)
        if not _PATH.fullmatch(options["path"]):
            raise ValidationError('path: must start with "/" and hold only letters, digits and . _ ~ / -')
        interval = options.setdefault("recheck_interval", DEFAULT_RECHECK_INTERVAL)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
            raise ValidationError("recheck_interval: must be a number of seconds above 0")
        return options

    def websocket_urls(self) -> list[URLPattern]:
        from handlers.websocket.consumer import AgentSocketConsumer

        route = self.options["path"].lstrip("/")
        return [path(route, AgentSocketConsumer.as_asgi(handler=self), name=f"{self.name}-socket")]
