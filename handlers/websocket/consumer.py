"""One agent connection: authenticated once at the handshake, then any number of calls.

Calls are handled one after the other in the order they arrive, and answered in that
order, so answers and deliveries keep the order the agent sent them in, however many are
in flight. A data call is answered once its durable receivers have it on disk; the next
calls are read and dispatched meanwhile (their messages share that disk write), up to
``MAX_UNANSWERED`` calls waiting for their answers. Nothing per call touches the
database: the token is checked at the handshake, metric types are read from memory.
"""

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import Any

from handlers.auth.tokens import (
    CheckUnavailable,
    TokenError,
    TokenExpired,
    acheck_token,
    averdict,
    bearer_token,
)
from handlers.models import NodeTransport
from handlers.transports import note_transport_soon
from handlers.websocket import calls
from handlers.websocket.frames import JSON, MSGPACK
from poa_backend.core import intake, metrics
from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from poa_backend.core.signals import DeliveryRefused
from poa_backend.core.websocket import DatabaseFreeConsumer, deny

#: Close codes and reasons when the session of an open socket ends: its token expired, or was
#: refused at a re-check (banned, or its user deactivated or deleted).
TOKEN_EXPIRED_CLOSE = (4001, "token_expired")
TOKEN_REFUSED_CLOSE = (4003, "token_refused")
TOKEN_EXPIRED_BODY = b'{"error":"token_expired"}'
AUTH_UNAVAILABLE_BODY = b'{"error":"auth_unavailable"}'
logger = logging.getLogger(__name__)

#: This transport's label in the ``poa_connections`` gauge.
CONNECTION_KIND = "agent"

#: Calls of one socket waiting for their answers (their messages still being written to
#: disk) before the socket's next calls are read.
MAX_UNANSWERED = 64

#: What a call comes to: its error payload or None, or, for a data call a durable receiver
#: takes, an awaitable of that once the message is on disk.
Outcome = str | None | Awaitable[str | None]


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class AgentSocketConsumer(DatabaseFreeConsumer):
    # Agent sockets get no messages from other processes: no channel-layer channel per socket.
    channel_layer_alias = None

    def __init__(self, handler: HandlerPlugin) -> None:
        super().__init__()
        self.handler = handler
        self.label = metrics.handler_label(type(handler))
        self.user_name = ""
        #: Agent ids this socket spoke for and that have not said bye: inactive when it closes.
        self.agents: set[str] = set()
        self._session: asyncio.Task | None = None
        #: Answers not sent yet, in call order: (codec, outcome, ref, has_ref).
        self._unanswered: deque[tuple[Any, Outcome, Any, bool]] = deque()
        self._answering: asyncio.Task | None = None

    async def connect(self) -> None:
        token = bearer_token(header(self.scope, b"authorization"))
        try:
            if token is None:
                raise TokenError("no bearer token")
            verdict = await averdict(token)
        except TokenExpired:
            metrics.rejected(self.label, "401")
            return await deny(self.scope, self.base_send, 401, TOKEN_EXPIRED_BODY)
        except TokenError:
            metrics.rejected(self.label, "401")
            return await deny(self.scope, self.base_send, 401)
        except CheckUnavailable:  # the database is away and the token is not known here
            metrics.rejected(self.label, "503")
            return await deny(
                self.scope, self.base_send, 503, AUTH_UNAVAILABLE_BODY, [(b"retry-after", b"5")]
            )
        self.user_name = verdict.user_name
        await self.accept()
        metrics.connection_opened(CONNECTION_KIND)
        self._session = asyncio.create_task(self._watch_session(token, verdict.expires_at))

    async def _watch_session(self, token: str, expires_at: float) -> None:
        """Close the socket when its token expires, or stops being valid at a periodic re-check.

        The agent then opens a new socket with a fresh token, as it would after a REST 401.
        """
        interval = self.handler.options["recheck_interval"]
        while (left := expires_at - time.time()) > 0:
            await asyncio.sleep(min(left, interval))
            if time.time() >= expires_at:
                break
            try:
                await acheck_token(token)
            except TokenExpired:
                break
            except TokenError:
                code, reason = TOKEN_REFUSED_CLOSE
                return await self.close(code=code, reason=reason)
            except Exception:  # the database is away: keep the session, check again later
                logger.exception("agent socket: token re-check failed")
        code, reason = TOKEN_EXPIRED_CLOSE
        await self.close(code=code, reason=reason)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        codec = JSON if bytes_data is None else MSGPACK
        try:
            frame = codec.decode(text_data if bytes_data is None else bytes_data)
        except intake.Refusal as refusal:
            return await self.answer(codec, calls.payload(refusal))
        has_ref = "ref" in frame
        if has_ref and not calls.echoable(frame["ref"]):
            return await self.answer(codec, calls.INVALID_REF)
        await self.answer(codec, await self.handle(frame), frame.get("ref"), has_ref)

    async def answer(self, codec: Any, outcome: Outcome, ref: Any = None, has_ref: bool = False) -> None:
        """Answer a call after every earlier one (without ``ref`` if it had none that could be
        echoed); a call whose message is still being written is answered once it is."""
        if not self._unanswered and not inspect.isawaitable(outcome):
            return await self._send_answer(codec, outcome, ref, has_ref)
        self._unanswered.append((codec, outcome, ref, has_ref))
        if self._answering is None:
            self._answering = asyncio.create_task(self._answer_in_order())
        if len(self._unanswered) >= MAX_UNANSWERED:
            await self._earlier_calls_answered()  # read no further until they are answered

    async def _answer_in_order(self) -> None:
        try:
            while self._unanswered:
                codec, outcome, ref, has_ref = self._unanswered[0]
                reason = await outcome if inspect.isawaitable(outcome) else outcome
                await self._send_answer(codec, reason, ref, has_ref)
                self._unanswered.popleft()  # after the send: a later answer cannot overtake it
        except Exception:  # the agent cannot be told in order any more: it reconnects and resends
            logger.exception("agent socket: a call could not be answered")
            self._unanswered.clear()
            await self.close(code=1011)
        finally:
            self._answering = None

    async def _earlier_calls_answered(self) -> None:
        """Wait until every call so far is answered, so its message is in every durable
        receiver's spool before an ``inactive`` of its agent reaches the receivers."""
        if self._answering is not None:
            await asyncio.shield(self._answering)

    async def _send_answer(self, codec: Any, reason: str | None, ref: Any, has_ref: bool) -> None:
        if reason is not None:
            metrics.rejected(self.label, reason)
        await self.base_send(codec.answer(reason, ref, has_ref))

    async def handle(self, frame: dict[str, Any]) -> Outcome:
        """Make the call: None when done, else the error payload of the first rule it breaks
        (for a data call a durable receiver takes: an awaitable of that)."""
        call = frame.get("call")
        if not isinstance(call, str) or call not in calls.CALLS:
            return calls.UNKNOWN_CALL
        try:
            return await getattr(self, f"call_{call}")(intake.agent_id(frame), frame)
        except intake.Refusal as refusal:
            return calls.payload(refusal)

    async def call_ping(self, agent_id: str, frame: dict[str, Any]) -> None:
        """Keep the agent active (its inactivity timer restarts; presence answers while Redis is away)."""
        self.agents.add(agent_id)
        await self.handler.aping(agent_id)

    async def call_data(self, agent_id: str, frame: dict[str, Any]) -> Outcome:
        """Hand the metric to every receiver subscribed to its type (never waits for them; a
        durable one's disk write is waited for by the answer, not by the next call)."""
        message = await intake.adata_message(agent_id, frame)
        self.agents.add(agent_id)
        try:
            written = self.handler.send_to_receivers_soon(message)
        except DeliveryRefused:
            return calls.RECEIVERS_UNAVAILABLE
        if written is None:
            note_transport_soon(message, NodeTransport.AGENT_SOCKET, self.user_name)
            return None
        return self._once_written(written, message)

    async def _once_written(self, written: Awaitable[None], message: Message) -> str | None:
        try:
            await written
        except DeliveryRefused:
            return calls.RECEIVERS_UNAVAILABLE
        note_transport_soon(message, NodeTransport.AGENT_SOCKET, self.user_name)
        return None

    async def call_bye(self, agent_id: str, frame: dict[str, Any]) -> None:
        """The agent leaves on purpose: inactive now (after its earlier messages)."""
        self.agents.discard(agent_id)
        await self._earlier_calls_answered()
        await self.handler.apublish_inactive(agent_id)

    async def disconnect(self, code: int) -> None:
        """A socket gone without bye: the agents it spoke for are inactive at once."""
        if self._session is None:
            return  # refused at the handshake: it never spoke for anyone
        self._session.cancel()
        metrics.connection_closed(CONNECTION_KIND)
        await self._earlier_calls_answered()
        for agent_id in sorted(self.agents):
            await self.handler.apublish_inactive(agent_id)
        self.agents.clear()
