"""The floor: a bare ASGI app on the same server software (Daphne), doing the least the
protocol asks (decode the body, answer success), so every figure has a ceiling to compare to.

HTTP: any POST -> decode the MessagePack or JSON body -> 200 ``{"result":"success"}``.
WebSocket: every frame is decoded and answered with success, echoing ``ref``.
"""

import json
from typing import Any

import msgpack

SUCCESS = b'{"result":"success"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(SUCCESS)).encode())]


def decode(body: bytes, msgpack_body: bool) -> Any:
    return msgpack.unpackb(body) if msgpack_body else json.loads(body)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        try:
            decode(body, content_type == b"application/msgpack")
            status = 200
        except ValueError:
            status = 422
        await send({"type": "http.response.start", "status": status, "headers": HEADERS})
        await send({"type": "http.response.body", "body": SUCCESS if status == 200 else b""})
    elif scope["type"] == "websocket":
        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif message["type"] == "websocket.receive":
                binary = message.get("bytes") is not None
                frame = decode(message["bytes"] if binary else message["text"], binary)
                answer = {"result": "success", "ref": frame.get("ref")}
                if binary:
                    await send({"type": "websocket.send", "bytes": msgpack.packb(answer)})
                else:
                    await send({"type": "websocket.send", "text": json.dumps(answer)})
            else:
                return
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
