"""The agent socket's frame codec: JSON in text frames, MessagePack in binary frames.

An answer goes back in the encoding of the frame it answers. Answers are built
as whole ASGI ``websocket.send`` messages; the common one (success without a
``ref``) is built once, so answering costs nothing per frame.
"""

import json
from collections.abc import Callable
from typing import Any

import msgpack

from poa_backend.core import intake


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
        """The frame as a dict; ``intake.Refusal`` (``malformed``, ``not_an_object``) when it is not one."""
        return intake.call_object(self._decode(payload))

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


JSON = Codec("text", intake.decode_json, encode_json, "json")
MSGPACK = Codec("bytes", intake.decode_msgpack, encode_msgpack, "msgpack")
