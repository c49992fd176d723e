"""Limits at the server's door, before any request reaches the application.

- Connections per client address are capped (``MAX_CONNECTIONS_PER_ADDRESS``): one
  address cannot take every file descriptor; several nodes behind one NAT still fit.
- New connections are paced (``MAX_NEW_CONNECTIONS_PER_SECOND``, a second's worth at
  once): past the rate the listening sockets stop accepting for a moment, so the rest of
  a reconnect storm waits in the kernel's listen backlog (and clients' SYN retries) instead
  of all arriving at once; the connections of an accept round beyond the pace are closed
  and retry.
- A request body over ``MAX_BODY_SIZE`` is refused with 413 from its ``Content-Length``
  (or, chunked, as soon as it grows past the limit), before anything is stored: Twisted
  would otherwise spool the whole body to a temporary file first.
"""

import logging
import time
from collections import Counter
from typing import Any

import daphne.http_protocol
from twisted.internet import tcp
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import implementer

from poa_backend.core.conf import poa_settings

logger = logging.getLogger("poa_backend.admission")

TOO_LARGE_BODY = b'{"error":"body_too_large"}'
TOO_LARGE = (
    b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(TOO_LARGE_BODY), TOO_LARGE_BODY)
)


class AdmittedConnection(ProtocolWrapper):
    """The transport every protocol of one connection writes to (HTTP, then maybe WebSocket)."""

    client_host = ""


@implementer(IProtocolNegotiationFactory)
class AdmissionFactory(WrappingFactory):
    """Wraps the HTTP factory: counts open connections per address and paces accepts."""

    protocol = AdmittedConnection

    def __init__(self, wrapped: Any, per_address: int, per_second: float) -> None:
        super().__init__(wrapped)
        self.per_address = per_address
        self.per_second = per_second
        self.open_by_address: Counter[str] = Counter()
        self._allowance = float(per_second)
        self._at = time.monotonic()
        self._paused_ports: list[Any] = []
        self._last_refusal_log = 0.0

    def buildProtocol(self, addr: Any) -> AdmittedConnection | None:
        host = str(getattr(addr, "host", ""))
        if self.per_address and self.open_by_address[host] >= self.per_address:
            self._log_refusal(host)
            return None  # Twisted closes the socket at once
        if not self._pace():
            return None  # past the pace: this one retries; the rest wait in the backlog
        connection = super().buildProtocol(addr)
        connection.client_host = host
        return connection

    def registerProtocol(self, connection: AdmittedConnection) -> None:
        self.open_by_address[connection.client_host] += 1

    def unregisterProtocol(self, connection: AdmittedConnection) -> None:
        self.open_by_address[connection.client_host] -= 1
        if self.open_by_address[connection.client_host] <= 0:
            del self.open_by_address[connection.client_host]

    def acceptableProtocols(self) -> list[bytes]:
        return self.wrappedFactory.acceptableProtocols()

    def _log_refusal(self, host: str) -> None:
        now = time.monotonic()
        if now - self._last_refusal_log >= 1.0:  # one line a second, not one per attempt
            self._last_refusal_log = now
            logger.warning("refused a connection from %s: %d open already", host, self.per_address)

    def _pace(self) -> bool:
        """Take one accept from the allowance (a second's worth at most). When it is spent,
        the listening sockets stop accepting until the next accept is due (one ``accept`` round
        takes every pending connection, so those of the round beyond the pace are refused)."""
        if not self.per_second:
            return True
        now = time.monotonic()
        self._allowance = min(self.per_second, self._allowance + (now - self._at) * self.per_second)
        self._at = now
        if self._allowance >= 1:
            self._allowance -= 1
            return True
        if not self._paused_ports:
            self._pause_accepting((1 - self._allowance) / self.per_second)
        return False

    def _pause_accepting(self, seconds: float) -> None:
        from twisted.internet import reactor  # Daphne's (asyncio), installed by then

        self._paused_ports = [
            reader
            for reader in reactor.getReaders()
            if isinstance(reader, tcp.Port)
            and self in (reader.factory, getattr(reader.factory, "wrappedFactory", None))
        ]
        for port in self._paused_ports:
            port.stopReading()
        reactor.callLater(seconds, self._resume_accepting)

    def _resume_accepting(self) -> None:
        ports, self._paused_ports = self._paused_ports, []
        for port in ports:
            if port.connected:
                port.startReading()


class LimitedRequest(daphne.http_protocol.WebRequest):
    """Daphne's request, refusing a body over ``MAX_BODY_SIZE`` before storing any of it."""

    refused = False
    body_received = 0

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > poa_settings.MAX_BODY_SIZE:
            self.refuse_body()
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > poa_settings.MAX_BODY_SIZE:
            self.refuse_body()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self.refused:
            super().requestReceived(command, path, version)

    def refuse_body(self) -> None:
        """Answer 413 and close; the rest of the body is never read."""
        self.refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the answer
        self.channel.transport.write(TOO_LARGE)
        self.channel.transport.loseConnection()


class HTTPFactory(daphne.http_protocol.HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol

    def log(self, request: Any) -> None:
        """Twisted formats a combined-log line per request for its own log, which Daphne sends
        nowhere at ``runbackend``'s verbosity (Daphne's access log is its ``log_action``): about
        5 % of the server's CPU per REST call, for nothing."""


def admitted_http_factory(server: Any) -> AdmissionFactory:
    """Daphne's HTTP factory behind the admission limits (what the server listens with)."""
    return AdmissionFactory(
        HTTPFactory(server),
        per_address=int(poa_settings.MAX_CONNECTIONS_PER_ADDRESS),
        per_second=float(poa_settings.MAX_NEW_CONNECTIONS_PER_SECOND),
    )
