"""The one intake check: what a handler may accept from an agent, whatever the transport.

A transport decodes a call (``decode_json`` / ``decode_msgpack`` here, or its own
decoder) and asks this module, step by step in the contract's order, whether it
may be accepted: ``agent_id(call)`` first, then ``data_message(agent_id, call)``
for a metric report. A refusal is a ``Refusal`` carrying a reason code; each
transport maps codes to its own answer (REST: the contract's 422 or 400; the
agent socket: its error frame; ethstats: closing the connection).

What passes is safe for every receiver: agent ids are short printable strings;
data is a JSON object whose strings are valid Unicode (no lone surrogates), whose
numbers are finite, whose keys are strings and whose nesting is bounded, so the
dashboard feed, storage and DynamoDB can always encode it.
"""

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import msgpack

from poa_backend.core.conf import poa_settings
from poa_backend.core.message import Message
from poa_backend.core.metric_types import ais_metric_type, is_metric_type

# Reason codes.
MALFORMED = "malformed"  # the bytes do not decode as the encoding says, or nest past the decoder's bound
NOT_AN_OBJECT = "not_an_object"  # the call is not a JSON object / MessagePack map
MISSING_ID = "missing_id"
INVALID_ID = "invalid_id"  # not a string, empty, too long, control characters, bad Unicode
UNKNOWN_TYPE = "unknown_type"  # not a configured metric type
DATA_NOT_AN_OBJECT = "data_not_an_object"
DATA_NOT_JSON = "data_not_json"  # binary, NaN, non-string keys, lone surrogates: JSON has no form
TOO_DEEP = "too_deep"  # nested deeper than MAX_NESTING
TOO_LARGE = "too_large"  # more bytes than the transport's limit

#: The longest agent id accepted, in characters (ethstats node names and enode ids fit).
MAX_AGENT_ID_LENGTH = 256
#: JSON nested deeper than this does not decode (``MALFORMED``): the standard decoder recurses,
#: so the bound is checked before it runs, well inside the interpreter's recursion limit.
#: MessagePack's decoder is not recursive and stops by itself past 1,024 levels.
MAX_DECODE_DEPTH = 512


class Refusal(ValueError):
    """A call that is not accepted; ``reason`` is one of the codes above."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


# Size and decoding.


def check_size(size: int, limit: int | None = None) -> None:
    """``TOO_LARGE`` when ``size`` bytes exceed ``limit`` (default ``MAX_BODY_SIZE``)."""
    if size > int(poa_settings.MAX_BODY_SIZE if limit is None else limit):
        raise Refusal(TOO_LARGE, f"{size} bytes is over the limit")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


#: A JSON string, or the rest of the text after an unterminated quote: every match ends where
#: the decoder's string would, and the scan never backtracks.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = str.maketrans("{}", "[]")


def _nests_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON ``text`` opens more than ``limit`` arrays/objects inside each other.

    Free for ordinary calls (fewer brackets than the limit); otherwise the strings go and
    the running depth is followed chunk by chunk, counted in C, char by char only near the limit.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    structure = _JSON_STRING.sub("", text).translate(_BRACKETS)
    depth, step = 0, max(limit // 2, 1)
    for start in range(0, len(structure), step):
        chunk = structure[start : start + step]
        opened = chunk.count("[")
        if depth + opened <= limit:
            depth += opened - chunk.count("]")
            continue
        for char in chunk:
            depth += (char == "[") - (char == "]")
            if depth > limit:
                return True
    return False


#: One decoder for every payload (``json.loads`` with an argument builds one per call).
_STRICT_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def decode_json(payload: str | bytes) -> Any:
    """Strict JSON in UTF-8 (no NaN or Infinity); malformed or too deep input is ``MALFORMED``."""
    try:
        text = payload if isinstance(payload, str) else payload.decode("utf-8")
        if _nests_deeper_than(text, MAX_DECODE_DEPTH):
            raise Refusal(MALFORMED, f"JSON nested deeper than {MAX_DECODE_DEPTH}")
        return _STRICT_JSON.decode(text)
    except Refusal:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refusal(MALFORMED, f"not JSON: {type(exc).__name__}") from exc


def decode_msgpack(payload: bytes) -> Any:
    """One MessagePack value (its decoder stops past 1,024 levels); malformed input is ``MALFORMED``."""
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=False, timestamp=0)
    except Exception as exc:  # msgpack raises bare exceptions for some truncated inputs
        raise Refusal(MALFORMED, f"not MessagePack: {type(exc).__name__}") from exc


# The checks.


def call_object(call: object) -> Mapping[str, Any]:
    """The decoded call as a mapping, else ``NOT_AN_OBJECT``."""
    if not isinstance(call, dict):
        raise Refusal(NOT_AN_OBJECT, "the call is not an object")
    return call


def is_valid_text(text: str) -> bool:
    """Whether ``text`` is made of Unicode scalar values only (no lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_agent_id(value: object) -> str:
    """A usable agent id: a string of 1 to 256 characters, printable, valid Unicode."""
    if not isinstance(value, str) or not value:
        raise Refusal(INVALID_ID, "id: missing or not a string")
    if len(value) > MAX_AGENT_ID_LENGTH:
        raise Refusal(INVALID_ID, f"id: longer than {MAX_AGENT_ID_LENGTH} characters")
    if not is_valid_text(value):
        raise Refusal(INVALID_ID, "id: not valid Unicode")
    if not value.isprintable() and any(unicodedata.category(char) == "Cc" for char in value):
        raise Refusal(INVALID_ID, "id: holds control characters")
    return value


def agent_id(call: Mapping[str, Any]) -> str:
    """The call's agent id, checked (``MISSING_ID`` when absent)."""
    if "id" not in call:
        raise Refusal(MISSING_ID, "id: missing")
    return check_agent_id(call["id"])


def check_json_value(value: object, max_nesting: int | None = None) -> None:
    """Whether ``value`` is safe to hand to receivers as JSON: raises ``DATA_NOT_JSON`` or
    ``TOO_DEEP``. Level by level, so no nesting costs stack; the types decoders give are
    matched exactly (a few microseconds for an agent's block), and a subclass of a JSON type
    is checked as its base type, at the same level."""
    limit = int(poa_settings.MAX_NESTING if max_nesting is None else max_nesting)
    level: list[Any] = [value]
    depth = 1
    while level:
        nested: list[Any] = []
        for item in level:  # may grow: a subclass comes back as its base type
            kind = type(item)
            if kind is str:
                if not item.isascii() and not is_valid_text(item):
                    raise Refusal(DATA_NOT_JSON, "a string is not valid Unicode")
            elif kind is dict:
                if depth > limit:
                    raise Refusal(TOO_DEEP, f"nested deeper than {limit}")
                for key in item:
                    if not isinstance(key, str) or not (key.isascii() or is_valid_text(key)):
                        raise Refusal(DATA_NOT_JSON, "a key is not a valid string")
                nested += item.values()
            elif item is None or kind is int or kind is bool:
                continue
            elif kind is list:
                if depth > limit:
                    raise Refusal(TOO_DEEP, f"nested deeper than {limit}")
                nested += item
            elif kind is float:
                if not math.isfinite(item):
                    raise Refusal(DATA_NOT_JSON, "a number is not finite")
            else:
                level.append(_as_base_type(item))
        level = nested
        depth += 1


def _as_base_type(item: object) -> object:
    """A subclass of a JSON type as that type (its keys and items unchanged), else ``DATA_NOT_JSON``."""
    for base in (str, int, float, dict, list):
        if isinstance(item, base):
            converted = base(item)
            if type(converted) is base:  # a conversion overridden to give a subclass again: no
                return converted
            break
    raise Refusal(DATA_NOT_JSON, f"{type(item).__name__} has no JSON form")


def _data_fields(call: Mapping[str, Any], type_known: bool) -> tuple[str, dict[str, Any]]:
    """The contract's order: data JSON can carry, then a configured type, then data an object."""
    data = call.get("data")
    check_json_value(data)
    if not type_known:
        raise Refusal(UNKNOWN_TYPE, "type: not a configured metric type")
    if not isinstance(data, dict):
        raise Refusal(DATA_NOT_AN_OBJECT, "data: missing or not an object")
    return call["type"], data


def data_message(agent: str, call: Mapping[str, Any], accepted_at: float | None = None) -> Message:
    """A metric report's Message, once its ``type`` is configured and its ``data`` safe (sync)."""
    data_type, data = _data_fields(call, is_metric_type(call.get("type")))
    return _message(agent, data_type, data, accepted_at)


async def adata_message(agent: str, call: Mapping[str, Any], accepted_at: float | None = None) -> Message:
    """``data_message`` from async code (metric types are read from memory)."""
    data_type, data = _data_fields(call, await ais_metric_type(call.get("type")))
    return _message(agent, data_type, data, accepted_at)


def _message(agent: str, data_type: str, data: dict[str, Any], accepted_at: float | None) -> Message:
    if accepted_at is None:
        return Message(agent_id=agent, data_type=data_type, data=data)
    return Message(agent_id=agent, data_type=data_type, data=data, accepted_at=accepted_at)
