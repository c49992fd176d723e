"""The Daphne server ``runbackend`` runs, completed with two ASGI WebSocket features Daphne lacks.

- The Denial Response extension (``websocket.http.response``): an application may
  refuse a handshake with any HTTP status and body (a 401 for a bad token, a 400
  for a bad secret) instead of the 403 Daphne gives for close-before-accept.
- The ``reason`` of ``websocket.close``: sent in the close frame with the code.

It also stops autobahn from formatting a debug line per frame sent that nothing logs
(``hltype``/``hlval`` build qualified names, and colours where ``click`` is installed,
before ``log.debug`` drops them): about a third of the CPU of a large fan-out.
"""

import logging
from http import HTTPStatus
from typing import Any

import autobahn.websocket.protocol
import daphne.server
from autobahn.websocket.protocol import WebSocketProtocol

from poa_backend.core.websocket import DENIAL_EXTENSION

OPEN = WebSocketProtocol.STATE_OPEN
logger = logging.getLogger("poa_backend.runbackend")


def _unformatted(value: Any, *args: Any, **kwargs: Any) -> str:
    """Stands in for autobahn's debug-line highlighters; Daphne never logs those lines."""
    return ""


autobahn.websocket.protocol.hltype = _unformatted
autobahn.websocket.protocol.hlval = _unformatted


class Server(daphne.server.Server):
    def __init__(self, *args: Any, listener_urls: dict[int, str] | None = None, **kwargs: Any) -> None:
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
            scope["extensions"] = {**(scope.get("extensions") or {}), DENIAL_EXTENSION: {}}
        return super().create_application(protocol, scope)

    def protocol_connected(self, protocol: Any) -> None:
        # Daphne passes bodies on untouched; Twisted's form parsing (unused) drops the
        # connection on some Content-Type parameters (``a/b;x*``) and 400s bad multipart.
        protocol._parsePOSTFormSubmission = False
        super().protocol_connected(protocol)

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind in ("websocket.http.response.start", "websocket.http.response.body"):
            if protocol in self.connections and not self.connections[protocol].get("disconnected"):
                self._denial_reply(protocol, message)
            return
        if kind == "websocket.close" and message.get("reason") and protocol.state == OPEN:
            protocol.sendClose(code=message.get("code") or 1000, reason=message["reason"])
            return
        await super().handle_reply(protocol, message)

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
