"""The dashboard receiver: serves the feed's WebSocket and turns messages into frames for it.

Options: the listener's (``scheme``, ``host``, ``port``), ``path`` of the socket
(default ``/ws``), ``secret`` the dashboards send in the ``wssecret`` header
(``POA_DASHBOARD_SECRET`` overrides it), ``buffer_size``: frames a dashboard
may fall behind before it is disconnected (default 2000). See docs/dashboard.md.
"""

import hmac
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import URLPattern, path

from poa_backend.core.conf import poa_settings
from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin
from receivers.dashboard.backplane import Backplane, LocalBackplane, RedisBackplane
from receivers.dashboard.browser import browser_feed_urls
from receivers.dashboard.consumer import DashboardConsumer
from receivers.dashboard.frames import INACTIVE_DATA, catchup_kind, catchup_order, encode_frame
from receivers.dashboard.hub import FeedStats, Hub
from receivers.dashboard.page import clean_page_options, page_urls

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/ws"
DEFAULT_BUFFER_SIZE = 2000


class DashboardReceiver(ReceiverPlugin):
    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        socket_path = options.setdefault("path", DEFAULT_PATH)
        if not socket_path.startswith("/"):
            raise ValidationError('path: must start with "/"')
        secret = options.get("secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValidationError("secret: must be a non-empty string")
        buffer_size = options.setdefault("buffer_size", DEFAULT_BUFFER_SIZE)
        if not isinstance(buffer_size, int) or isinstance(buffer_size, bool) or buffer_size < 1:
            raise ValidationError("buffer_size: must be a positive integer")
        return clean_page_options(options)

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(name, options)
        self.stats = FeedStats()
        self.hub = Hub(self.stats, self._backplane())
        self._socket = DashboardConsumer.as_asgi(receiver=self)

    def _backplane(self) -> Backplane:
        if settings.REDIS_URL:
            return RedisBackplane(settings.REDIS_URL, poa_settings.REDIS_PREFIX, self.name)
        return LocalBackplane(self.name, settings.DATA_DIR / f"dashboard-{self.name}.json")

    @property
    def buffer_size(self) -> int:
        return self.options["buffer_size"]

    @property
    def secret(self) -> str:
        """The secret dashboards must send: the environment's when set, else the row's."""
        return poa_settings.DASHBOARD_SECRET or self.options.get("secret") or ""

    def secret_matches(self, given: bytes | None) -> bool:
        secret = self.secret.encode()
        return bool(secret) and given is not None and hmac.compare_digest(given, secret)

    def websocket_urls(self) -> list[URLPattern]:
        feed = path(self.options["path"].lstrip("/"), self._socket, name=f"{self.name}-feed")
        return [feed, *browser_feed_urls(self)]

    def http_urls(self) -> list[URLPattern]:
        """The web dashboard page (receivers/dashboard/page.py)."""
        return page_urls(self)

    # Catch-up: per agent (sorted by id), its latest information frame, then its latest statistics frame.

    def catchup_frames(self) -> list[str]:
        """The catch-up a dashboard connecting now gets (sync code; may ask Redis)."""
        return catchup_order(self.hub.backplane.latest())

    async def acatchup_frames(self) -> list[str]:
        """``catchup_frames`` for the event loop."""
        return catchup_order(await self.hub.backplane.alatest())

    # Receiver hooks (worker thread).

    def handle_messages(self, messages: list[Message]) -> None:
        frames: list[str] = []
        latest: dict[str, dict[str, str]] = {}
        for message in messages:
            try:
                frame = encode_frame(message.agent_id, message.data)
            except (TypeError, ValueError) as exc:
                self.stats.messages_unencodable += 1
                logger.warning("dashboard %s: message of %s not sent: %s", self.name, message.agent_id, exc)
                continue
            frames.append(frame)
            kind = catchup_kind(message.data)
            if kind is not None:
                latest.setdefault(kind, {})[message.agent_id] = frame
        self.hub.publish(frames, latest)

    def handle_inactive(self, agent_id: str) -> None:
        frame = encode_frame(agent_id, INACTIVE_DATA)
        self.hub.publish([frame], {"statistics": {agent_id: frame}})

    def terminate(self) -> None:
        self.hub.shutdown()
