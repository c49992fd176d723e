"""Request bodies in MessagePack (the reference agent's encoding), beside DRF's JSON parser."""

from typing import Any

import msgpack
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

MSGPACK = "application/msgpack"
JSON = "application/json"


class MessagePackParser(BaseParser):
    media_type = MSGPACK

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return decode_msgpack(stream.read())
        except ValueError as exc:
            raise ParseError(f"MessagePack parse error - {exc}") from exc


def decode_msgpack(body: bytes) -> Any:
    """Decode one MessagePack value; any malformed input is a ValueError (never another error)."""
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False, timestamp=0)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    except Exception as exc:  # msgpack raises bare exceptions for some truncated inputs
        raise ValueError(str(exc) or type(exc).__name__) from exc


#: The two encodings the POA Protocol allows, in DRF's parser-class form.
PROTOCOL_PARSERS = [JSONParser, MessagePackParser]
