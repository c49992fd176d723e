"""The dashboards' WebSocket: checked secret, then the catch-up, then every live frame."""

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from poa_backend.core import metrics
from poa_backend.core.websocket import DatabaseFreeConsumer, deny, send_texts
from receivers.dashboard.hub import FEED_LOST_CODE, FeedClosed, Outbox

if TYPE_CHECKING:
    from receivers.dashboard.receiver import DashboardReceiver

logger = logging.getLogger(__name__)

#: Close code when the feed cannot start (Redis unreachable): the dashboard retries later.
UNAVAILABLE_CODE = FEED_LOST_CODE


class DashboardConsumer(DatabaseFreeConsumer):
    """A dashboard of the ``wssecret`` feed; subclasses change who is admitted (``refusal``)."""

    #: This socket's label in the ``poa_connections`` gauge.
    kind = "dashboard"
    #: Frames come from the receiver's hub, never from the Channels layer: no per-socket Redis subscription.
    channel_layer_alias = None

    def __init__(self, receiver: "DashboardReceiver", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.receiver = receiver
        self.outbox: Outbox | None = None
        self.forwarder: asyncio.Task | None = None

    def refusal(self) -> int | None:
        """The HTTP status refusing this handshake, or None to open the socket."""
        given = dict(self.scope["headers"]).get(b"wssecret")
        return None if self.receiver.secret_matches(given) else 400  # the contract: 400, no socket

    def counted(self, sent: int) -> None:
        """Keep the receiver's figure of frames sent."""
        self.receiver.stats.frames_sent += sent

    async def connect(self) -> None:
        status = self.refusal()
        if status is not None:
            await deny(self.scope, self.base_send, status)
            return
        outbox = self.receiver.new_outbox()
        try:
            catchup = await self.receiver.hub.subscribe(outbox)
        except Exception as exc:
            logger.warning("dashboard %s: %s feed unavailable: %s", self.receiver.name, self.kind, exc)
            await self.accept()
            await self.close(code=UNAVAILABLE_CODE)
            return
        # Open only now: whatever happens after the dashboard sees the handshake comes live,
        # and none of it is already in the catch-up it gets.
        await self.accept()
        self.outbox = outbox
        metrics.connection_opened(self.kind)
        self.forwarder = asyncio.create_task(self._forward(outbox, catchup))

    async def _forward(self, outbox: Outbox, catchup: list[str]) -> None:
        """The catch-up, then every batch, until the feed closes; a failed send closes this socket alone."""
        try:
            await self._send_all(catchup)
            while True:
                await self._send_all(await outbox.get())
        except FeedClosed as closed:
            code = closed.code
        except Exception:
            self.receiver.stats.sends_failed += 1
            logger.exception(
                "dashboard %s: sending to a %s failed; closing it", self.receiver.name, self.kind
            )
            code = FEED_LOST_CODE
        self.receiver.hub.unsubscribe(outbox)
        with contextlib.suppress(Exception):  # the peer may be gone already
            await self.close(code=code)

    async def _send_all(self, frames: list[str]) -> None:
        # Straight to the server's ASGI send, every frame of the batch in one message: at
        # 100,000 frames a second Channels' two ``send`` layers per frame were about 4 % of
        # the event loop, and the server's own layers per frame 15 %.
        await send_texts(self.scope, self.base_send, frames)
        self.counted(len(frames))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Frames from dashboards mean nothing in the protocol: ignored."""

    async def disconnect(self, code: int) -> None:
        if self.outbox is not None:
            self.receiver.hub.unsubscribe(self.outbox)
            metrics.connection_closed(self.kind)
            self.outbox = None
        if self.forwarder is not None:
            self.forwarder.cancel()
