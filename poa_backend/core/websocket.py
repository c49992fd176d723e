"""Two WebSocket features of our server (``poa_backend.server.Server``, what ``runbackend`` runs)
beyond plain ASGI, each with its fallback under a server that lacks it.

- Refusing a handshake with a real HTTP status (401, 400, ...) and body: ASGI's WebSocket
  Denial Response extension lets an application answer the upgrade request with any HTTP
  response instead of opening the socket; elsewhere the only refusal is closing before
  accepting, which the server turns into 403.
- Sending many text frames in one message (``send_texts``): the server frames them all
  and writes them at once, where ``websocket.send`` costs a pass through the server's
  layers per frame (a dashboard feed sends tens of thousands of frames a second).
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

DENIAL_EXTENSION = "websocket.http.response"
#: Our server's extension: ``{"type": SEND_TEXTS, "texts": [...]}`` sends each as a text frame.
SEND_TEXTS = "poa.websocket.send_texts"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def supports_denial(scope: dict[str, Any]) -> bool:
    """Whether the server lets this connection be refused with an HTTP response of our choice."""
    return DENIAL_EXTENSION in (scope.get("extensions") or {})


async def deny(
    scope: dict[str, Any],
    send: Send,
    status: int,
    body: bytes = b"",
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Refuse the handshake of ``scope`` with ``status`` and ``body`` (403 where the server cannot).

    ``send`` is the connection's raw ASGI send (a Channels consumer's ``base_send``).
    A non-empty body is sent as ``application/json`` unless ``headers`` name a type.
    """
    if not supports_denial(scope):
        await send({"type": "websocket.close"})
        return
    headers = list(headers)
    if body and not any(name.lower() == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"application/json"))
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


async def send_texts(scope: dict[str, Any], send: Send, texts: list[str]) -> None:
    """Send each of ``texts`` as a text frame, in order, with one ASGI message where the server
    takes it. ``send`` is the connection's raw ASGI send."""
    if SEND_TEXTS in (scope.get("extensions") or {}):
        if texts:
            await send({"type": SEND_TEXTS, "texts": texts})
        return
    for text in texts:
        await send({"type": "websocket.send", "text": text})


class DatabaseFreeConsumer(AsyncWebsocketConsumer):
    """A consumer whose events never touch the database.

    Channels closes stale database connections before every event: a hop to its
    thread-sensitive executor for each frame received. These consumers skip it;
    what needs the database goes through ``sync_to_async``, which sees to its own
    connections.
    """

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Channels' consumer loop; on no channel layer, each event is dispatched as it comes,
        without the task and ``asyncio.wait`` Channels spends on every event to watch a layer
        as well (about 8 % of the server's CPU at the agent socket's max rate)."""
        if self.channel_layer_alias is not None:
            return await super().__call__(scope, receive, send)
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
