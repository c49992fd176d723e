"""The web page's socket: the dashboard feed's frames, for a signed-in staff browser.

Same frames as the ``wssecret`` feed (catch-up, then every live frame, from this
process and, with Redis, the others), through the receiver's hub. Authenticated
by the Django session cookie, so a page from another site must not open it: the
``Origin`` has to be this host.
"""

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import URLPattern, path

from poa_backend import metrics
from poa_backend.websocket import deny
from receivers.dashboard.hub import FeedClosed, Outbox
from receivers.dashboard.page import BROWSER_FEED_PATH, may_watch

if TYPE_CHECKING:
    from receivers.dashboard.receiver import DashboardReceiver

logger = logging.getLogger(__name__)

UNAVAILABLE_CODE = 1011


def same_origin(scope: dict[str, Any]) -> bool:
    """Whether the handshake's ``Origin`` (when a browser sent one) is the host it connected to."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if origin is None:
        return True  # not a browser: nothing to forge with a cookie
    host = headers.get(b"host", b"").decode("latin-1").lower()
    return urlsplit(origin.decode("latin-1")).netloc.lower() == host


class BrowserFeedConsumer(AsyncWebsocketConsumer):
    def __init__(self, receiver: "DashboardReceiver", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.receiver = receiver
        self.outbox: Outbox | None = None
        self.forwarder: asyncio.Task | None = None

    async def connect(self) -> None:
        if not same_origin(self.scope) or not may_watch(self.receiver, self.scope.get("user")):
            await deny(self.scope, self.base_send, 403)
            return
        await self.accept()
        outbox = Outbox(self.receiver.buffer_size)
        try:
            await self.receiver.hub.subscribe(outbox)  # before the catch-up: nothing falls in between
            catchup = await self.receiver.acatchup_frames()
        except Exception as exc:
            self.receiver.hub.unsubscribe(outbox)
            logger.warning("dashboard %s: browser feed unavailable: %s", self.receiver.name, exc)
            await self.close(code=UNAVAILABLE_CODE)
            return
        self.outbox = outbox
        metrics.connection_opened("browser")
        for frame in catchup:
            await self.send(text_data=frame)
        self.forwarder = asyncio.create_task(self._forward())

    async def _forward(self) -> None:
        try:
            while True:
                for frame in await self.outbox.get():
                    await self.send(text_data=frame)
        except FeedClosed as closed:
            await self.close(code=closed.code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page only listens."""

    async def disconnect(self, code: int) -> None:
        if self.outbox is not None:
            self.receiver.hub.unsubscribe(self.outbox)
            metrics.connection_closed("browser")
            self.outbox = None
        if self.forwarder is not None:
            self.forwarder.cancel()


def browser_feed_urls(receiver: "DashboardReceiver") -> list[URLPattern]:
    app = AuthMiddlewareStack(BrowserFeedConsumer.as_asgi(receiver=receiver))
    return [path(BROWSER_FEED_PATH.lstrip("/"), app, name=f"{receiver.name}-browser-feed")]
