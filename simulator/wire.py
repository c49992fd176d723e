"""Small asyncio clients for HTTP/1.1 keep-alive and WebSocket, lean enough for load.

A load generator on the same machine as the server takes CPU from it; per request these
clients do little more than format a header and find a length, so nearly all the CPU
goes to the server under test. They speak only what the simulator needs: one request in
flight per HTTP connection (as the reference agent does), and WebSocket text/binary
frames with ping, pong and close.
"""

import asyncio
import base64
import os
import ssl as ssl_module
import struct
from collections.abc import Callable
from urllib.parse import urlsplit


class ConnectionClosed(ConnectionError):
    """The peer closed the connection."""


def client_ssl_context(verify: bool) -> ssl_module.SSLContext:
    """TLS for https URLs; a local backend's self-signed certificate needs ``verify=False``."""
    context = ssl_module.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
    return context


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s)/ws(s) URL."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    port = parts.port or (443 if secure else 80)
    return parts.scheme, parts.hostname or "127.0.0.1", port, parts.path or "/"


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _HttpProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            response = self._parse()
            if response is not None:
                self.waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionClosed("connection closed by the server"))

    def _parse(self) -> Response | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "content-length" in headers:
            length = int(headers["content-length"])
            if len(buffer) < start + length:
                return None
            body = bytes(buffer[start : start + length])
            del buffer[: start + length]
            return Response(status, headers, body)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            position = start
            while True:
                line_end = buffer.find(b"\r\n", position)
                if line_end < 0:
                    return None
                size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
                chunk_start = line_end + 2
                if len(buffer) < chunk_start + size + 2:
                    return None
                if size == 0:
                    del buffer[: chunk_start + 2]
                    return Response(status, headers, bytes(body))
                body += buffer[chunk_start : chunk_start + size]
                position = chunk_start + size + 2
        if status in (204, 304) or 100 <= status < 200:
            del buffer[:start]
            return Response(status, headers, b"")
        return None  # body delimited by close: wait for connection_lost


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, url: str, *, verify_tls: bool = False, timeout: float = 30.0) -> None:
        scheme, self.host, self.port, _ = split_url(url)
        self.ssl = client_ssl_context(verify_tls) if scheme == "https" else None
        self.timeout = timeout
        self.protocol: _HttpProtocol | None = None
        self.host_header = f"{self.host}:{self.port}"

    async def _connect(self) -> _HttpProtocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            _HttpProtocol, self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl else None
        )
        return protocol

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> Response:
        """Send one request and wait for its response. ``headers``: extra ``Name: value\\r\\n`` lines."""
        protocol = self.protocol
        if protocol is None or protocol.closed:
            protocol = self.protocol = await self._connect()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host_header}\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        waiter = protocol.waiter = asyncio.get_running_loop().create_future()
        protocol.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            protocol.transport.write(body)
        try:
            response = await asyncio.wait_for(waiter, self.timeout)
        except BaseException:
            self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    def close(self) -> None:
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.close()
        self.protocol = None


# WebSocket (RFC 6455), client side.

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    length = len(payload)
    repeated = (key * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")


def frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    key = os.urandom(4)
    return header + key + _mask(payload, key)


class _WebSocketProtocol(asyncio.Protocol):
    def __init__(self, on_message: Callable[[int, bytes], None]) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.open = False
        self.fragments: list[bytes] = []
        self.fragment_opcode = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionClosed("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.handshake.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            status = int(head.split(" ", 2)[1])
            if status != 101:
                self.handshake.set_exception(ConnectionRefusedError(f"handshake answered {status}"))
                self.transport.close()
                return
            self.open = True
            self.handshake.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buffer = self.buffer
        position = 0
        size = len(buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length = second & 0x7F
            offset = position + 2
            if length == 126:
                if size - offset < 2:
                    break
                length = int.from_bytes(buffer[offset : offset + 2], "big")
                offset += 2
            elif length == 127:
                if size - offset < 8:
                    break
                length = int.from_bytes(buffer[offset : offset + 8], "big")
                offset += 8
            if second & 0x80:  # servers do not mask, but tolerate it
                offset += 4
            if size - offset < length:
                break
            payload = bytes(buffer[offset : offset + length])
            if second & 0x80:
                payload = _mask(payload, bytes(buffer[offset - 4 : offset]))
            position = offset + length
            self._frame(first & 0x0F, bool(first & 0x80), payload)
        if position:
            del buffer[:position]

    def _frame(self, opcode: int, final: bool, payload: bytes) -> None:
        if opcode == PING:
            self.transport.write(frame(PONG, payload))
        elif opcode == CLOSE:
            if self.open:
                self.open = False
                self.transport.write(frame(CLOSE, payload[:2]))
            self.transport.close()
        elif opcode == PONG:
            return
        elif opcode == 0:
            self.fragments.append(payload)
            if final:
                self.on_message(self.fragment_opcode, b"".join(self.fragments))
                self.fragments = []
        elif not final:
            self.fragment_opcode = opcode
            self.fragments = [payload]
        else:
            self.on_message(opcode, payload)


class WebSocket:
    """A client WebSocket: ``send`` writes at once (pipelining is free); frames go to ``on_message``."""

    def __init__(self, protocol: _WebSocketProtocol) -> None:
        self.protocol = protocol

    @classmethod
    async def connect(
        cls,
        url: str,
        on_message: Callable[[int, bytes], None],
        *,
        headers: dict[str, str] | None = None,
        verify_tls: bool = False,
        timeout: float = 10.0,
    ) -> "WebSocket":
        scheme, host, port, path = split_url(url)
        query = urlsplit(url).query
        target = f"{path}?{query}" if query else path
        ssl = client_ssl_context(verify_tls) if scheme in ("wss", "https") else None
        loop = asyncio.get_running_loop()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: _WebSocketProtocol(on_message),
                host,
                port,
                ssl=ssl,
                server_hostname=host if ssl else None,
            ),
            timeout,
        )
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        protocol.transport.write(
            (
                f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"{extra}\r\n"
            ).encode("latin-1")
        )
        try:
            await asyncio.wait_for(protocol.handshake, timeout)
        except BaseException:
            protocol.transport.close()
            raise
        return cls(protocol)

    @property
    def open(self) -> bool:
        return self.protocol.open

    def send(self, payload: bytes | str) -> None:
        if not self.protocol.open:
            raise ConnectionClosed("websocket is closed")
        if isinstance(payload, str):
            self.protocol.transport.write(frame(TEXT, payload.encode()))
        else:
            self.protocol.transport.write(frame(BINARY, payload))

    def write_buffer_size(self) -> int:
        return self.protocol.transport.get_write_buffer_size()

    async def close(self, timeout: float = 2.0) -> None:
        protocol = self.protocol
        if protocol.open:
            protocol.open = False
            protocol.transport.write(frame(CLOSE, struct.pack("!H", 1000)))
            try:
                await asyncio.wait_for(asyncio.shield(protocol.closed), timeout)
            except TimeoutError:
                pass
        protocol.transport.close()

    async def wait_closed(self) -> None:
        await self.protocol.closed
