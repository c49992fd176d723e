"""The dashboard receiver: serves the feed's WebSocket and turns messages into frames for it.

Options: the listener's (``scheme``, ``host``, ``port``), ``path`` of the socket
(default ``/ws``), ``secret`` the dashboards send in the ``wssecret`` header
(``POA_DASHBOARD_SECRET`` overrides it); ``buffer_size`` and ``buffer_bytes``:
frames and bytes a dashboard may fall behind before it is disconnected (default
2000 and 8 MiB); ``catchup_agents``, ``catchup_max_age`` and ``catchup_bytes``: the
catch-up keeps at most that many agents, none inactive longer than that many seconds,
and at most that many bytes of frames (default 1000, 4 h and 64 MiB). See docs/dashboard.md.
"""

import dataclasses
import hmac
import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import URLPattern, path

from poa_backend.core.conf import poa_settings
from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin
from receivers.dashboard.backplane import Backplane, Bounds, LocalBackplane, RedisBackplane
from receivers.dashboard.browser import browser_feed_urls
from receivers.dashboard.consumer import DashboardConsumer
from receivers.dashboard.frames import INACTIVE_DATA, Unencodable, catchup_kind, encode_frame
from receivers.dashboard.hub import FeedStats, Hub, Outbox, flush_stats, register_stats
from receivers.dashboard.page import clean_page_options, page_urls

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/ws"
#: Option -> default: every one a positive number (seconds for the age).
SIZE_OPTIONS: dict[str, int | float] = {
    "buffer_size": 2000,
    "buffer_bytes": 8 * 1024 * 1024,
    "catchup_agents": 1000,
    "catchup_max_age": 4 * 3600.0,
    "catchup_bytes": 64 * 1024 * 1024,
}


class DashboardReceiver(ReceiverPlugin):
    #: Under load, a batch every 10 ms rather than a wake-up of this receiver's thread per
    #: message (each takes the interpreter from the event loop); a message after a quiet
    #: spell still goes at once.
    linger = 0.01

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        socket_path = options.setdefault("path", DEFAULT_PATH)
        if not socket_path.startswith("/"):
            raise ValidationError('path: must start with "/"')
        secret = options.get("secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValidationError("secret: must be a non-empty string")
        for key, default in SIZE_OPTIONS.items():
            value = options.setdefault(key, default)
            kinds = (int, float) if isinstance(default, float) else (int,)
            if not isinstance(value, kinds) or isinstance(value, bool) or not 0 < value < math.inf:
                raise ValidationError(
                    f"{key}: must be a positive {'number' if float in kinds else 'integer'}"
                )
        return clean_page_options(options)

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(name, options)
        self.stats = FeedStats()
        register_stats(name, self.stats)
        self.hub = Hub(self.stats, self._backplane())
        self._socket = DashboardConsumer.as_asgi(receiver=self)

    def _backplane(self) -> Backplane:
        bounds = Bounds(
            agents=self.options["catchup_agents"],
            max_age=float(self.options["catchup_max_age"]),
            size=self.options["catchup_bytes"],
        )
        if settings.REDIS_URL:
            return RedisBackplane(settings.REDIS_URL, poa_settings.REDIS_PREFIX, self.name, bounds)
        return LocalBackplane(self.name, settings.DATA_DIR / f"dashboard-{self.name}.json", bounds)

    def new_outbox(self) -> Outbox:
        """An outbox bounded as the options say, for one more dashboard (on the event loop)."""
        return Outbox(self.options["buffer_size"], self.options["buffer_bytes"])

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

    # Receiver hooks (worker thread).

    def figures(self) -> dict[str, float]:
        """The feed's counts in this process (frames sent, dropped, sockets closed for overflow...)."""
        return dataclasses.asdict(self.stats)

    def handle_messages(self, messages: list[Message]) -> None:
        frames: list[str] = []
        latest: dict[str, dict[str, str]] = {}
        for message in messages:
            try:
                frame = encode_frame(message.agent_id, message.data)
            except Unencodable as exc:
                self.stats.messages_unencodable += 1
                logger.warning("dashboard %s: message of %r not sent: %s", self.name, message.agent_id, exc)
                continue
            frames.append(frame)
            kind = catchup_kind(message.data)
            if kind is not None:
                latest.setdefault(kind, {})[message.agent_id] = frame
        self.hub.publish(frames, latest)

    def handle_inactive_agents(self, agent_ids: list[str]) -> None:
        """The inactive frames, in one batch, for agents the catch-up holds; of others no
        dashboard knows anything."""
        latest: dict[str, str] = {}
        known = self.hub.backplane.known(agent_ids)
        for agent_id in agent_ids:
            if agent_id not in known:
                continue
            try:
                latest[agent_id] = encode_frame(agent_id, INACTIVE_DATA)
            except Unencodable:
                self.stats.messages_unencodable += 1
        if latest:
            self.hub.publish(list(latest.values()), {"statistics": latest})

    def terminate(self) -> None:
        self.hub.shutdown()
        flush_stats(self.stats)
