"""Request bodies of the agent-facing HTTP endpoints (REST calls and auth): media type, size, decoding.

Both encodings decode through the core's intake check (``poa_backend.core.intake``), so a
body's size and nesting are bounded before any decoder runs, and every failure is an
``intake.Refusal`` with a reason code that each view maps to its contract's answer.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from poa_backend.core import intake

MSGPACK = "application/msgpack"
JSON = "application/json"

#: The two encodings the POA Protocol allows, and the intake decoder of each.
DECODERS: dict[str, Callable[[bytes], Any]] = {JSON: intake.decode_json, MSGPACK: intake.decode_msgpack}


def media_type(request: Request) -> tuple[str, str]:
    """The declared media type (lower case) and its parameters (lower case, without spaces)."""
    declared, _, parameters = request.META.get("CONTENT_TYPE", "").partition(";")
    return declared.strip().lower(), parameters.replace(" ", "").lower()


def check_declared_size(request: Request) -> None:
    """Refuse by ``Content-Length`` alone, before a byte is read: ``TOO_LARGE`` over ``MAX_BODY_SIZE``."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        raise intake.Refusal(intake.MALFORMED, "Content-Length is not a number")
    intake.check_size(int(declared))


def read_body(request: Request) -> bytes:
    """The body's bytes, within ``MAX_BODY_SIZE`` by the declared length and by what was read."""
    check_declared_size(request)
    try:
        body = request.body
    except RequestDataTooBig:  # Django's own cap, DATA_UPLOAD_MAX_MEMORY_SIZE
        raise intake.Refusal(intake.TOO_LARGE, "over DATA_UPLOAD_MAX_MEMORY_SIZE")
    intake.check_size(len(body))
    return body


def decode_body(body: bytes, declared: str) -> Any:
    """The decoded body of media type ``declared``; an empty body is an empty object."""
    return DECODERS[declared](body) if body else {}


class IntakeParser(BaseParser):
    """DRF's parser form of an intake decoder, for views that read ``request.data``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return DECODERS[self.media_type](stream.read())
        except intake.Refusal as refusal:
            raise ParseError(f"the body does not decode as {self.media_type}: {refusal}") from refusal


class JSONParser(IntakeParser):
    media_type = JSON


class MessagePackParser(IntakeParser):
    media_type = MSGPACK


#: The two encodings, in DRF's parser-class form (they also tell the OpenAPI schema).
PROTOCOL_PARSERS = [JSONParser, MessagePackParser]
