"""The agent socket's frame codec: JSON in text frames, MessagePack in binary frames.

An answer goes back in the encoding of the frame it answers. Answers are built
as whole ASGI ``websocket.send`` messages; the common one (success without a
``ref``) is built once, so answering costs nothing per frame.
"""

import json
from collections.abc import Callable
from typing import Any

import msgpack

from handlers.parsers import decode_msgpack

#: Error payloads for frames that cannot be read at all (no call, no ``ref`` to echo).
MALFORMED_FRAME = "malformed_frame"
NOT_AN_OBJECT = "not_an_object"


class FrameError(ValueError):
    """The frame cannot be answered as a call; ``reason`` is the error payload."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(text: str) -> Any:
    """Strict JSON (no NaN or Infinity), as the REST handler's parser reads it."""
    return json.loads(text, parse_constant=_refuse_constant)


def encode_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_msgpack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True, datetime=False)


class Codec:
    """One encoding: how its frames decode and how its answers are sent."""

    def __init__(
        self, key: str, decode: Callable[[Any], Any], encode: Callable[[Any], Any], name: str
    ) -> None:
        self.key = key  # the ASGI message key carrying this encoding: "text" or "bytes"
        self.name = name
        self._decode = decode
        self._encode = encode
        self.success = self.message({"result": "success"})

    def message(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The ASGI message sending ``answer`` in this encoding."""
        return {"type": "websocket.send", self.key: self._encode(answer)}

    def decode(self, payload: Any) -> dict[str, Any]:
        """The frame as a dict, or FrameError saying why it is not one."""
        try:
            frame = self._decode(payload)
        except (ValueError, UnicodeDecodeError):
            raise FrameError(MALFORMED_FRAME)
        if not isinstance(frame, dict):
            raise FrameError(NOT_AN_OBJECT)
        return frame

    def answer(self, reason: str | None = None, ref: Any = None, has_ref: bool = False) -> dict[str, Any]:
        """A success answer (``reason`` None) or an error answer, echoing ``ref`` when the call gave one."""
        if reason is None and not has_ref:
            return self.success
        answer: dict[str, Any] = (
            {"result": "success"}
            if reason is None
            else {
                "result": "error",
                "payload": reason,
            }
        )
        if has_ref:
            answer["ref"] = ref  # decoded from this encoding, so it encodes back
        return self.message(answer)


JSON = Codec("text", decode_json, encode_json, "json")
MSGPACK = Codec("bytes", decode_msgpack, encode_msgpack, "msgpack")
