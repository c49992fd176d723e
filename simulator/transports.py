"""How a simulated agent talks to the backend: REST like the reference agent, WebSocket, or ethstats.

REST: MessagePack bodies, ``Authorization: Bearer <JWT>``, one request at a time on a
keep-alive connection; on a 401 the token is renewed at the session endpoint and the
call retried once. WebSocket: one connection per agent, calls pipelined (each carries
a ``ref`` and its answer names it), so an agent need not wait for one answer to send on.
ethstats: one connection per node at ``/api``, frames of a client profile
(``simulator.ethstats``), unanswered but for ``ready`` and ``node-pong``.
"""

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgpack

from simulator.stats import Recorder
from simulator.wire import TEXT, ConnectionClosed, HttpConnection, WebSocket

#: Encodes one call; gets the WebSocket ``ref`` (None over REST) and returns MessagePack.
Encoder = Callable[[int | None], bytes]


@dataclass
class Credentials:
    """An agent user's name and password, and the session token last obtained with them."""

    user: str
    password: str = ""
    token: str = ""


class SessionClient:
    """``POST /session`` on the auth listener, shared by the agents of one simulation."""

    def __init__(self, auth_url: str, *, verify_tls: bool = False) -> None:
        self.auth_url = auth_url
        self.verify_tls = verify_tls

    async def renew(self, credentials: Credentials, agent_id: str) -> bool:
        """Trade the credentials for a new token; False when refused."""
        if not credentials.password:
            return False
        connection = HttpConnection(self.auth_url, verify_tls=self.verify_tls)
        basic = base64.b64encode(f"{credentials.user}:{credentials.password}".encode()).decode()
        try:
            response = await connection.request(
                "POST",
                "/session",
                msgpack.packb({"agent-id": agent_id}),
                f"Content-Type: application/msgpack\r\nAuthorization: Basic {basic}\r\n",
            )
        finally:
            connection.close()
        if response.status != 200:
            return False
        credentials.token = json.loads(response.body)["token"]
        return True


class RestTransport:
    """The reference agent's way: POST /ping, /data, /bye with MessagePack bodies."""

    pipelined = False

    def __init__(
        self,
        url: str,
        agent_id: str,
        credentials: Credentials,
        recorder: Recorder,
        sessions: SessionClient | None = None,
    ) -> None:
        self.connection = HttpConnection(url)
        self.agent_id = agent_id
        self.credentials = credentials
        self.recorder = recorder
        self.sessions = sessions

    async def open(self) -> None:
        if not self.credentials.token and self.sessions is not None:
            await self.sessions.renew(self.credentials, self.agent_id)

    def _headers(self) -> str:
        return f"Content-Type: application/msgpack\r\nAuthorization: Bearer {self.credentials.token}\r\n"

    async def call(self, call: str, encode: Encoder, key: int | None = None) -> float | None:
        """Send one call and wait for its answer; the round trip in seconds when it succeeded."""
        body = encode(None)
        recorder = self.recorder
        recorder.sent += 1
        started = time.perf_counter()
        try:
            response = await self.connection.request("POST", f"/{call}", body, self._headers())
            if response.status == 401 and self.sessions is not None:
                recorder.renewals += 1
                if await self.sessions.renew(self.credentials, self.agent_id):
                    response = await self.connection.request("POST", f"/{call}", body, self._headers())
        except (TimeoutError, OSError) as exc:
            recorder.error(type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        ok = response.status == 200
        recorder.answer(call, ok, str(response.status), elapsed, key)
        return elapsed if ok else None

    async def close(self) -> None:
        self.connection.close()


class WebSocketTransport:
    """One WebSocket per agent on the handler's /agent path; calls are pipelined."""

    pipelined = True

    def __init__(
        self,
        url: str,
        agent_id: str,
        credentials: Credentials,
        recorder: Recorder,
        sessions: SessionClient | None = None,
        *,
        path: str = "/agent",
        window: int = 64,
    ) -> None:
        self.url = url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + path
        self.agent_id = agent_id
        self.credentials = credentials
        self.recorder = recorder
        self.sessions = sessions
        self.websocket: WebSocket | None = None
        self.pending: dict[int, tuple[str, float, int | None, asyncio.Future | None]] = {}
        self.next_ref = 0
        self.window = asyncio.Semaphore(window)

    async def open(self) -> None:
        if not self.credentials.token and self.sessions is not None:
            await self.sessions.renew(self.credentials, self.agent_id)
        self.websocket = await self._connect()

    async def _connect(self) -> WebSocket:
        headers = {"Authorization": f"Bearer {self.credentials.token}"}
        try:
            return await WebSocket.connect(self.url, self._answer, headers=headers)
        except ConnectionRefusedError:
            if self.sessions is None or not await self.sessions.renew(self.credentials, self.agent_id):
                raise
            self.recorder.renewals += 1
            return await WebSocket.connect(self.url, self._answer, headers=headers)

    def _answer(self, opcode: int, payload: bytes) -> None:
        try:
            answer = json.loads(payload) if opcode == TEXT else msgpack.unpackb(payload)
        except ValueError:
            self.recorder.error("undecodable answer")
            return
        ref = answer.get("ref") if isinstance(answer, dict) else None
        entry = self.pending.pop(ref, None)
        if entry is None:
            self.recorder.error("answer without a pending ref")
            return
        call, started, key, waiter = entry
        elapsed = time.perf_counter() - started
        ok = answer.get("result") == "success"
        reason = "success" if ok else str(answer.get("payload") or answer.get("result"))
        self.recorder.answer(call, ok, reason, elapsed, key)
        self.window.release()
        if waiter is not None and not waiter.done():
            waiter.set_result(elapsed if ok else None)

    async def call(
        self, call: str, encode: Encoder, key: int | None = None, wait: bool = True
    ) -> float | None:
        """Send one call; with ``wait`` return its round trip (None when refused), else return at once."""
        await self.window.acquire()
        websocket = self.websocket
        if websocket is None or not websocket.open:
            self.window.release()
            self.recorder.error("websocket closed")
            return None
        self.next_ref += 1
        ref = self.next_ref
        waiter = asyncio.get_running_loop().create_future() if wait else None
        self.pending[ref] = (call, time.perf_counter(), key, waiter)
        self.recorder.sent += 1
        try:
            websocket.send(encode(ref))
        except ConnectionClosed:
            self.pending.pop(ref, None)
            self.window.release()
            self.recorder.error("websocket closed")
            return None
        if waiter is None:
            return None
        try:
            return await asyncio.wait_for(waiter, 30.0)
        except TimeoutError:
            if self.pending.pop(ref, None) is not None:
                self.window.release()
            self.recorder.error("no answer")
            return None

    async def drain(self, timeout: float) -> None:
        """Wait for the answers still outstanding (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline and self.websocket and self.websocket.open:
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self.websocket is not None:
            await self.drain(5.0)
            lost = len(self.pending)
            if lost:
                self.recorder.error("no answer")
                self.recorder.errors["no answer"] += lost - 1
            await self.websocket.close()


class EthstatsTransport:
    """One ethstats connection (``/api``), as a client's built-in reporter opens it.

    ethstats has no answers to data frames: a frame counts as accepted once written, and
    what reached the dashboards is counted there. ``node-ping`` gets its ``node-pong``
    (the round trip is the recorded latency); a history request goes to ``on_history``.
    """

    pipelined = True

    def __init__(self, url: str, recorder: Recorder, *, path: str = "/api") -> None:
        self.url = url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + path
        self.recorder = recorder
        self.websocket: WebSocket | None = None
        self.ready: asyncio.Future | None = None
        self.pong: asyncio.Future | None = None
        self.on_history: Callable[[dict], None] | None = None

    async def open(self, hello: str, wait_for_ready: bool = True) -> bool:
        """Connect and say hello; whether ``ready`` came back (within 30 s, as reth waits)."""
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.websocket = await WebSocket.connect(self.url, self._frame)
        self.websocket.send(hello)
        if not wait_for_ready:
            return True
        try:
            return await asyncio.wait_for(self.ready, 30.0)
        except TimeoutError:
            self.recorder.error("no ready")
            return False

    def _frame(self, opcode: int, payload: bytes) -> None:
        try:
            value = json.loads(payload)
        except ValueError:
            self.recorder.error("undecodable frame")
            return
        if value == "primus::server::close":
            self.recorder.error("refused")
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(False)
            return
        emit = value.get("emit") if isinstance(value, dict) else None
        if not isinstance(emit, list) or not emit:
            return
        if emit[0] == "ready" and self.ready is not None and not self.ready.done():
            self.ready.set_result(True)
        elif emit[0] == "node-pong" and self.pong is not None and not self.pong.done():
            self.pong.set_result(time.perf_counter())
        elif emit[0] == "history" and self.on_history is not None and len(emit) > 1:
            self.on_history(emit[1])

    def send(self, frame: str, call: str, key: int | None = None) -> bool:
        """Write one frame; counted as accepted (with ``key`` for the dashboards' loss count)."""
        self.recorder.sent += 1
        try:
            if self.websocket is None:
                raise ConnectionClosed("not connected")
            self.websocket.send(frame)
        except ConnectionClosed:
            self.recorder.error("websocket closed")
            return False
        self.recorder.answer(call, True, "sent", 0.0, key)
        return True

    async def ping(self, frame: str, timeout: float = 5.0) -> float | None:
        """Send ``node-ping`` and wait for its ``node-pong`` (go-ethereum waits 5 s); the round trip."""
        self.pong = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        self.recorder.sent += 1
        try:
            self.websocket.send(frame)
            answered = await asyncio.wait_for(self.pong, timeout)
        except ConnectionClosed:
            self.recorder.error("websocket closed")
            return None
        except TimeoutError:
            self.recorder.error("no node-pong")
            return None
        elapsed = answered - started
        self.recorder.answer("node-ping", True, "success", elapsed)
        return elapsed

    async def close(self) -> None:
        if self.websocket is not None:
            await self.websocket.close()
