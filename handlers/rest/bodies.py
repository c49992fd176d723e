"""Reading an agent call's body, in the contract's order: content type, size, decoding, ``id``.

Bodies are JSON or MessagePack objects. What reaches the receivers must be
representable as JSON (the dashboard feed and storage speak JSON), so MessagePack
values JSON has no form for (binary, extension types, non-string keys, NaN) are
refused with 422 like any other wrong field.
"""

import math
from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from handlers.parsers import JSON, MSGPACK
from handlers.rest.exceptions import BodyTooLarge, MalformedBody, Unprocessable, UnsupportedContentType
from poa_backend.core.conf import poa_settings

MEDIA_TYPES = frozenset({JSON, MSGPACK})
#: The one media-type parameter tolerated (HTTP libraries add it to JSON by themselves).
ALLOWED_PARAMETERS = frozenset({"", "charset=utf-8"})


def declared_media_type(request: Request) -> str:
    """``application/json`` or ``application/msgpack`` (case-insensitive), else 415."""
    media_type, _, parameters = request.META.get("CONTENT_TYPE", "").partition(";")
    media_type = media_type.strip().lower()
    if media_type not in MEDIA_TYPES:
        raise UnsupportedContentType()
    if parameters.replace(" ", "").lower() not in ALLOWED_PARAMETERS:
        raise UnsupportedContentType()
    return media_type


def check_size(request: Request) -> None:
    """413 above ``MAX_BODY_SIZE``: by the declared length first, then by what was actually read."""
    limit = int(poa_settings.MAX_BODY_SIZE)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        raise MalformedBody("Content-Length is not a number")
    if int(declared) > limit:
        raise BodyTooLarge()
    try:
        size = len(request.body)
    except RequestDataTooBig:  # Django's own cap, DATA_UPLOAD_MAX_MEMORY_SIZE
        raise BodyTooLarge()
    if size > limit:
        raise BodyTooLarge()


def decoded_object(request: Request) -> dict[str, Any]:
    """The decoded body: 400 when it does not decode, 422 when it is not an object (map)."""
    try:
        body = request.data
    except (ParseError, RecursionError):
        raise MalformedBody()
    if not isinstance(body, dict):
        raise Unprocessable("the body is not an object")
    return body


def required_id(body: dict[str, Any]) -> str:
    """The agent id: a non-empty string, else 422."""
    agent_id = body.get("id")
    if not isinstance(agent_id, str) or not agent_id:
        raise Unprocessable("id: missing or not a string")
    return agent_id


def read_call(request: Request) -> tuple[dict[str, Any], str]:
    """The decoded body and the agent id, or the contract's refusal (415, 413, 400, 422)."""
    media_type = declared_media_type(request)
    check_size(request)
    body = decoded_object(request)
    agent_id = required_id(body)
    if media_type == MSGPACK and not is_json_value(body.get("data")):
        raise Unprocessable("data: holds values JSON cannot represent")
    return body, agent_id


_SCALARS = (str, int, bool, type(None))


def is_json_value(value: object) -> bool:
    """Whether ``value`` has a JSON form (iterative: nesting depth costs no stack)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            return False
    return True
