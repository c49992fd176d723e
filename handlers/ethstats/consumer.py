"""One ethstats connection: a hello, then the node's reports, in the order it sent them.

Frames are handled one after the other (Channels dispatches a consumer's events in
order), so frames a node sends right after its hello wait for the login check and
are then handled in order, never dropped (Nethermind does not wait for ``ready``).
The server speaks only when spoken to: ``ready`` for an accepted hello, ``node-pong``
for ``node-ping``, ``primus::pong`` for ``primus::ping``, a history request after a
``latency`` when blocks are missing, and ``primus::server::close`` before closing a
refused connection. Garbage closes only the connection that sent it.
"""

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async

from handlers.ethstats import frames, limits, login, presence, translate
from handlers.ethstats.history import HistoryPlanner
from handlers.ethstats.login import Login, LoginRefused
from poa_backend.core import metrics
from poa_backend.core.intake import Refusal, check_json_value
from poa_backend.core.message import Message
from poa_backend.core.signals import DeliveryRefused
from poa_backend.core.websocket import DatabaseFreeConsumer

logger = logging.getLogger(__name__)

#: This transport's label in the ``poa_connections`` gauge.
CONNECTION_KIND = "ethstats"
#: Close codes and reasons (applications may send 1000 and 3000-4999 only: 40xx mirror RFC 6455's).
REFUSED_CLOSE = (4003, "refused")  # after primus::server::close: bad hello or secret, ban, user gone
NO_HELLO_CLOSE = (4008, "no_hello")
RATE_LIMITED_CLOSE = (4029, "rate_limited")
MALFORMED_CLOSE = (4007, "malformed")
TOO_LARGE_CLOSE = (4009, "too_large")
TRY_AGAIN_CLOSE = (4013, "try_again_later")  # the database is away or a spool is full: the node retries
#: Frames other than hello a connection may send before it (Primus pings, early node-pings).
MAX_FRAMES_BEFORE_HELLO = 16

# Reasons counted in ``poa_messages_rejected`` for frames ignored on an open session.
OTHER_ID = "other_id"
SECOND_HELLO = "second_hello"


class EthstatsConsumer(DatabaseFreeConsumer):
    # ethstats sockets get no messages from other processes: no channel-layer channel per socket.
    channel_layer_alias = None

    def __init__(self, handler: Any) -> None:
        super().__init__()
        self.handler = handler
        self.label = metrics.handler_label(type(handler))
        self.address = ""
        self.login: Login | None = None
        self.node: presence.NodePresence | None = None
        self.history: HistoryPlanner | None = None
        self.bucket = limits.TokenBucket(
            handler.options["max_frames_per_second"], handler.options["max_frame_burst"]
        )
        self.frames_before_hello = 0
        self.said_hello = False
        self.closing = False
        self._opened = False
        self._tasks: list[asyncio.Task] = []

    async def connect(self) -> None:
        client = self.scope.get("client") or ("",)
        self.address = str(client[0] or "")
        await self.accept()
        self._opened = True
        metrics.connection_opened(CONNECTION_KIND)
        self._tasks.append(asyncio.create_task(self._expect_hello()))

    async def _expect_hello(self) -> None:
        await asyncio.sleep(self.handler.options["hello_timeout"])
        if not self.said_hello:  # a hello waiting for its check (a storm of logins) is not timed out
            await self._close(NO_HELLO_CLOSE, "no_hello")

    async def _close(self, close: tuple[int, str], reason: str, server_close: bool = False) -> None:
        """Close this connection once, counting why; later frames are ignored."""
        if self.closing:
            return
        self.closing = True
        metrics.rejected(self.label, reason)
        if server_close:
            await self.base_send(frames.SERVER_CLOSE)
        code, text = close
        await self.close(code=code, reason=text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        payload = text_data if text_data is not None else bytes_data
        if len(payload) > self.handler.options["max_frame_size"]:
            return await self._close(TOO_LARGE_CLOSE, "too_large")
        try:
            frame = frames.decode(payload)
        except Refusal as exc:
            return await self._close(MALFORMED_CLOSE, exc.reason)
        try:
            await self._frame(frame)
        except DeliveryRefused:
            # A durable receiver's spool is full: the node reconnects later and reports afresh.
            await self._close(TRY_AGAIN_CLOSE, "receivers_unavailable")

    async def _frame(self, frame: frames.Frame) -> None:
        if self.login is None:
            return await self._before_login(frame)
        if not self.bucket.take():
            await sync_to_async(limits.ban, thread_sensitive=False)(
                self.login.hello.node_id, self.handler.options["ban_seconds"]
            )
            return await self._close(RATE_LIMITED_CLOSE, "rate_limited")
        if isinstance(frame, frames.Control):
            await self.node.heard()
            if frame.text.startswith(frames.PRIMUS_PING):
                await self.base_send(frames.primus_pong(frame.text))
        elif isinstance(frame, frames.Event):
            await self._event(frame)
        # Other JSON (primus-spark-latency's {"_latency": n}) is ignored.

    async def _before_login(self, frame: frames.Frame) -> None:
        if isinstance(frame, frames.Event) and frame.name == "hello":
            self.said_hello = True
            return await self._hello(frame.payload)
        self.frames_before_hello += 1
        if self.frames_before_hello > MAX_FRAMES_BEFORE_HELLO:
            return await self._close(REFUSED_CLOSE, "no_hello", server_close=True)
        if isinstance(frame, frames.Control) and frame.text.startswith(frames.PRIMUS_PING):
            await self.base_send(frames.primus_pong(frame.text))
        # A node-ping before hello (the Node agent's timer) waits for no answer: nothing is sent.

    async def _hello(self, payload: Any) -> None:
        try:
            hello = login.parse_hello(payload)
            accepted = await login.alogin(
                hello, self.address, login.shared_secrets(self.handler.options["secrets"])
            )
        except LoginRefused as exc:
            if exc.reason == login.BROKEN_HELLO:
                await login.arecord_failure(self.address)
            return await self._close(REFUSED_CLOSE, exc.reason, server_close=True)
        except Exception:
            logger.exception("ethstats: login check failed")
            return await self._close(TRY_AGAIN_CLOSE, "login_unavailable")
        if self.closing:  # closed while the check ran
            return
        await self.base_send(frames.READY)
        self.login = accepted
        node_id = hello.node_id
        self.history = HistoryPlanner(bool(hello.info.get("canUpdateHistory")))
        self.node = presence.join(self.handler, node_id, self, self.handler.inactivity_timeout)
        await self.node.heard()
        await self._send(translate.ETHEREUM, translate.information(hello.info))
        self._tasks.append(asyncio.create_task(self._watch_standing()))

    async def _watch_standing(self) -> None:
        """End the session when its agent user is banned, deactivated or deleted."""
        interval = self.handler.options["recheck_interval"]
        while not self.closing:
            await asyncio.sleep(interval)
            try:
                admitted = await login.astill_admitted(self.login)
            except Exception:  # the database is away: keep the session, check again later
                logger.exception("ethstats: session re-check failed")
                continue
            if not admitted:
                return await self._close(REFUSED_CLOSE, "session_ended", server_close=True)

    async def _send(self, metric_type: str, data: dict[str, Any]) -> None:
        """Hand a report on; raises ``DeliveryRefused`` when a durable receiver's spool is full."""
        message = Message(self.login.hello.node_id, metric_type, data)
        await self.handler.asend_to_receivers(message)

    async def _event(self, event: frames.Event) -> None:
        node_id = self.login.hello.node_id
        payload = event.payload
        claimed = payload.get("id", node_id) if isinstance(payload, dict) else node_id
        if claimed != node_id:
            return metrics.rejected(self.label, OTHER_ID)  # never attributed to another node
        await self.node.heard()
        if event.name == "node-ping":
            client_time = payload.get("clientTime") if isinstance(payload, dict) else None
            return await self.base_send(frames.node_pong(client_time, int(time.time() * 1000)))
        if event.name == "hello":
            return metrics.rejected(self.label, SECOND_HELLO)
        translation = translate.TRANSLATIONS.get(event.name)
        if translation is None:
            return  # block_new_payload, new-payload, update, ...: no message
        metric_type, translate_event = translation
        try:
            data = translate_event(payload)
            check_json_value(data)
        except translate.Untranslatable:
            return metrics.rejected(self.label, "untranslatable", metric_type)
        except Refusal as exc:
            return metrics.rejected(self.label, exc.reason, metric_type)
        await self._send(metric_type, data)
        if event.name == "block":
            self.history.saw_block(data["body"].get("number"))
        elif event.name == "latency":
            numbers = self.history.after_latency()
            if numbers:
                await self.base_send(frames.history_request(numbers))

    async def disconnect(self, code: int) -> None:
        """The node is inactive at once, unless another of its connections is still open."""
        self.closing = True
        for task in self._tasks:
            task.cancel()
        if not self._opened:
            return
        self._opened = False
        metrics.connection_closed(CONNECTION_KIND)
        if self.node is not None:
            await presence.leave(self.node, self)
