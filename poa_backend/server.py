"""The Daphne server ``runbackend`` runs, completed with two ASGI WebSocket features Daphne lacks.

- The Denial Response extension (``websocket.http.response``): an application may
  refuse a handshake with any HTTP status and body (a 401 for a bad token, a 400
  for a bad secret) instead of the 403 Daphne gives for close-before-accept.
- The ``reason`` of ``websocket.close``: sent in the close frame with the code.

Its connections send what a loop turn wrote to them at the end of the turn
(poa_backend/flushing.py). It also stops autobahn from formatting debug lines that nothing
logs, before ``log.debug`` drops them: one per frame sent and one per read (``hltype`` and
``hlval`` build qualified names, and colours where ``click`` is installed), about a third of
the CPU of a large fan-out; and one per connection opened (``pformat`` of its 29 settings,
on the event loop: 1.4 % of the server's CPU for an agent's connection and first call).

Its limits, so that no client can exhaust it (docs/security.md):

- The admission limits of poa_backend/admission.py: connections per address, new
  connections per second, request bodies refused from their ``Content-Length``.
- WebSocket input is bounded per connection: at ``WEBSOCKET_INPUT_QUEUE`` frames not
  yet taken by the application the server stops reading that socket until half are;
  a single read that overflows it to four times as many closes it (1008).
- A WebSocket whose peer does not read is closed: Twisted pauses a producer when the
  socket's write buffer is full; if it is still full ``WEBSOCKET_DRAIN_TIMEOUT`` seconds
  later, or ``WEBSOCKET_MAX_BUFFERED`` more bytes were written meanwhile, the connection
  is aborted (a close frame could not get through).
- Liveness counts only pongs to the server's pings (every ``WEBSOCKET_PING_INTERVAL``
  seconds, ``WEBSOCKET_PING_TIMEOUT`` for the answer). Daphne and autobahn both took any
  frame from the client as liveness, so a client sending and never reading lived forever.
  These are WebSocket control frames: the ethstats handler's Primus protocol is unaffected.
"""

import logging
import time
from http import HTTPStatus
from typing import Any

import autobahn.twisted.util
import autobahn.twisted.websocket
import autobahn.websocket.protocol
import daphne.server
import daphne.ws_protocol
from autobahn.exception import PayloadExceededError
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from poa_backend import flushing
from poa_backend.admission import AdmittedConnection, admitted_http_factory
from poa_backend.core.conf import poa_settings
from poa_backend.core.websocket import DENIAL_EXTENSION, SEND_TEXTS

OPEN = WebSocketProtocol.STATE_OPEN
logger = logging.getLogger("poa_backend.runbackend")


def _unformatted(value: Any, *args: Any, **kwargs: Any) -> str:
    """Stands in for autobahn's debug-line formatters; Daphne never logs those lines."""
    return ""


for _module in (autobahn.websocket.protocol, autobahn.twisted.websocket):  # the second: per read
    _module.hltype = _module.hlval = _unformatted
autobahn.websocket.protocol.pformat = _unformatted  # else only for timings, which Daphne never tracks

_transport_channel_id = autobahn.twisted.util.transport_channel_id


def _channel_id_under_wrappers(transport: Any, is_server: bool, channel_id_type: str | None = None) -> Any:
    """autobahn reads the TLS channel id off the socket's transport, which it expects to be the
    TLS protocol itself; ours is the admission wrapper around it (poa_backend/admission.py)."""
    while isinstance(transport, AdmittedConnection):
        transport = transport.transport
    return _transport_channel_id(transport, is_server, channel_id_type)


autobahn.twisted.util.transport_channel_id = _channel_id_under_wrappers
autobahn.twisted.websocket.transport_channel_id = _channel_id_under_wrappers


@implementer(IPushProducer)
class WriteBufferWatch:
    """Registered on a WebSocket's transport: Twisted pauses it while the write buffer is full."""

    def __init__(self, protocol: "LimitedWebSocketProtocol") -> None:
        self.protocol = protocol
        self.full_since: float | None = None
        self.written_while_full = 0
        self._deadline: Any = None

    def pauseProducing(self) -> None:
        from twisted.internet import reactor

        if self.full_since is None:
            self.full_since = time.monotonic()
            self.written_while_full = 0
            self._deadline = reactor.callLater(
                poa_settings.WEBSOCKET_DRAIN_TIMEOUT, self.protocol.close_unread, "did not drain"
            )

    def resumeProducing(self) -> None:
        self.full_since = None
        self.stopProducing()

    def stopProducing(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def written(self, size: int) -> None:
        if self.full_since is None:
            return
        self.written_while_full += size
        if self.written_while_full > poa_settings.WEBSOCKET_MAX_BUFFERED:
            self.protocol.close_unread(f"took {self.written_while_full} bytes more while full")


class LimitedWebSocketProtocol(daphne.ws_protocol.WebSocketProtocol):
    """Daphne's WebSocket protocol with bounded input, a drain bound and pong-only liveness."""

    input_paused = False
    overflowed = False

    def connectionMade(self) -> None:
        super().connectionMade()
        # The HTTP channel of the upgrade request is still the transport's producer.
        self.transport.unregisterProducer()
        self.write_buffer = WriteBufferWatch(self)
        self.transport.registerProducer(self.write_buffer, True)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.overflowed:
            return
        queue = getattr(self, "application_queue", None)
        bound = poa_settings.WEBSOCKET_INPUT_QUEUE
        if queue is not None and queue.qsize() >= bound:
            if queue.qsize() >= 4 * bound:
                self.overflowed = True
                logger.warning("closing WebSocket %s: %d frames waiting", self.client_addr, queue.qsize())
                self.sendClose(code=1008, reason="too many frames waiting")
                return
            self.pause_input()
        last_ping = self.last_ping  # a frame is no pong: only pongs keep the socket alive
        super().onMessage(payload, isBinary)
        self.last_ping = last_ping

    def pause_input(self) -> None:
        if not self.input_paused:
            self.input_paused = True
            self.transport.pauseProducing()
            self._check_input()

    def _check_input(self) -> None:
        from twisted.internet import reactor

        if self.state == self.STATE_CLOSED:
            return
        if self.application_queue.qsize() <= poa_settings.WEBSOCKET_INPUT_QUEUE // 2:
            self.input_paused = False
            self.transport.resumeProducing()
        else:
            reactor.callLater(0.05, self._check_input)

    def serverSend(self, content: bytes | str, binary: bool = False) -> None:
        self.write_buffer.written(len(content))
        if self.state != self.STATE_CLOSED:
            super().serverSend(content, binary)

    def send_texts(self, texts: list[str]) -> None:
        """Every text a frame (unmasked, unfragmented: as autobahn frames a server's message),
        all in one write; with compression negotiated, autobahn frames each. Frames for a
        socket that is closing are dropped, as autobahn drops them."""
        if self.state != OPEN:
            return
        if self._perMessageCompress is not None:
            for text in texts:
                self.serverSend(text)
            return
        data = text_frames(texts, self.maxMessagePayloadSize)
        self.write_buffer.written(len(data))
        self.sendData(data)

    def close_unread(self, why: str) -> None:
        """The peer does not read: drop the connection and what is buffered for it."""
        if self.state == self.STATE_CLOSED:
            return
        logger.warning("closing WebSocket %s: its write buffer %s", self.client_addr, why)
        self.wasNotCleanReason = f"write buffer {why}"
        self.write_buffer.stopProducing()
        self.dropConnection(abort=True)


def text_frames(texts: list[str], max_payload: int = 0) -> bytes:
    """RFC 6455 text frames of ``texts``, as a server sends them (FIN, no mask); a payload over
    ``max_payload`` bytes (0: no limit) raises, as autobahn's ``sendMessage`` does."""
    parts = []
    for text in texts:
        payload = text.encode("utf-8")
        size = len(payload)
        if 0 < max_payload < size:
            raise PayloadExceededError(f"a {size}-byte frame is over the {max_payload}-byte limit")
        if size < 126:
            parts.append(bytes((0x81, size)))
        elif size < 65536:
            parts.append(b"\x81\x7e" + size.to_bytes(2, "big"))
        else:
            parts.append(b"\x81\x7f" + size.to_bytes(8, "big"))
        parts.append(payload)
    return b"".join(parts)


class WebSocketFactory(daphne.ws_protocol.WebSocketFactory):
    protocol = LimitedWebSocketProtocol

    def setProtocolOptions(self, **options: Any) -> None:
        # autobahn's default cancels a pending ping's timeout on any data frame.
        super().setProtocolOptions(**options, autoPingRestartOnAnyTraffic=False)


# Daphne builds its two factories by these names inside ``Server.run``.
daphne.server.HTTPFactory = admitted_http_factory
daphne.server.WebSocketFactory = WebSocketFactory
flushing.install()


class Server(daphne.server.Server):
    def __init__(self, *args: Any, listener_urls: dict[int, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("ping_interval", poa_settings.WEBSOCKET_PING_INTERVAL)
        kwargs.setdefault("ping_timeout", poa_settings.WEBSOCKET_PING_TIMEOUT)
        kwargs.setdefault("websocket_max_message_size", poa_settings.WEBSOCKET_MAX_MESSAGE_SIZE)
        kwargs.setdefault("websocket_max_frame_size", poa_settings.WEBSOCKET_MAX_MESSAGE_SIZE)
        super().__init__(*args, **kwargs)
        #: Port -> the URL to log once that listener is open.
        self.listener_urls = listener_urls or {}
        #: Why a listener could not be opened (the server then stops).
        self.listen_failures: list[str] = []

    def listen_success(self, port: Any) -> None:
        super().listen_success(port)
        number = port.getHost().port
        logger.info("listening on %s", self.listener_urls.get(number, f"port {number}"))

    def listen_error(self, failure: Any) -> None:
        self.listen_failures.append(failure.getErrorMessage())
        super().listen_error(failure)

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if scope.get("type") == "websocket":
            scope["extensions"] = {**(scope.get("extensions") or {}), DENIAL_EXTENSION: {}, SEND_TEXTS: {}}
        return super().create_application(protocol, scope)

    def protocol_connected(self, protocol: Any) -> None:
        # Daphne passes bodies on untouched; Twisted's form parsing (unused) drops the
        # connection on some Content-Type parameters (``a/b;x*``) and 400s bad multipart.
        protocol._parsePOSTFormSubmission = False
        super().protocol_connected(protocol)

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("websocket.http.response.start", "websocket.http.response.body"):
            if self._still_connected(protocol):
                self._denial_reply(protocol, message)
            return
        if kind == SEND_TEXTS:
            if self._still_connected(protocol):
                protocol.send_texts(message["texts"])
            return
        if kind == "websocket.close" and message.get("reason") and protocol.state == OPEN:
            protocol.sendClose(code=message.get("code") or 1000, reason=message["reason"])
            return
        await super().handle_reply(protocol, message)

    def _still_connected(self, protocol: Any) -> bool:
        """Daphne's own test before it hands a reply to a protocol."""
        return protocol in self.connections and not self.connections[protocol].get("disconnected")

    def _denial_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        """Collect the denial response; once complete, write it in place of the handshake answer."""
        details = self.connections[protocol]
        if message["type"] == "websocket.http.response.start":
            if not hasattr(protocol, "handshake_deferred") or "denial" in details:
                raise ValueError("websocket.http.response.start after the handshake was answered")
            details["denial"] = {"status": int(message["status"]), "headers": message.get("headers", [])}
            details["denial_body"] = []
            return
        if "denial" not in details:
            raise ValueError("websocket.http.response.body before websocket.http.response.start")
        details["denial_body"].append(message.get("body", b""))
        if not message.get("more_body", False):
            denial = details.pop("denial")
            write_denial(protocol, denial["status"], denial["headers"], b"".join(details.pop("denial_body")))
            self.protocol_disconnected(protocol)
            self.log_action("websocket", "rejected", {"path": protocol.request.path})


def write_denial(protocol: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Answer the upgrade request with an HTTP response and drop the connection (no socket opens)."""
    del protocol.handshake_deferred  # never fired: the response below replaces the handshake answer
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Denied"
    lines = [f"HTTP/1.1 {status} {phrase}".encode("latin-1")]
    lines += [name + b": " + value for name, value in headers if name.lower() != b"content-length"]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    protocol.wasNotCleanReason = f"handshake denied with {status}"
    protocol.sendData(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    protocol.dropConnection(abort=False)
