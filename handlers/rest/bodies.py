"""Reading an agent call's body, in the contract's order: content type, size, decoding, ``id``.

Everything past the content type is the core's intake check (``poa_backend.core.intake``):
a refusal is an ``intake.Refusal``, answered by ``exceptions.protocol_exception_handler``.
The call's own fields (``type``, ``data``) are checked by the view, after the token.
"""

from typing import Any

from asgiref.sync import sync_to_async
from rest_framework.request import Request

from handlers import parsers
from handlers.rest.exceptions import UnsupportedContentType
from poa_backend.core import intake

#: The one media-type parameter tolerated (HTTP libraries add it to JSON by themselves).
ALLOWED_PARAMETERS = frozenset({"", "charset=utf-8"})


def declared_media_type(request: Request) -> str:
    """``application/json`` or ``application/msgpack`` (case-insensitive), else 415."""
    media_type, parameters = parsers.media_type(request)
    if media_type not in parsers.DECODERS or parameters not in ALLOWED_PARAMETERS:
        raise UnsupportedContentType()
    return media_type


#: Bodies up to this size are decoded on the event loop; larger ones on a worker thread, so
#: that a stranger's megabyte never holds the loop (and every agent on it) in one piece.
INLINE_DECODE_LIMIT = 64 * 1024


async def read_call(request: Request) -> tuple[dict[str, Any], str]:
    """The decoded call and its checked agent id; 415, else an ``intake.Refusal`` (413, 400, 422)."""
    media_type = declared_media_type(request)
    body = parsers.read_body(request)
    if len(body) <= INLINE_DECODE_LIMIT:
        decoded = parsers.decode_body(body, media_type)
    else:
        decoded = await sync_to_async(parsers.decode_body, thread_sensitive=False)(body, media_type)
    call = intake.call_object(decoded)
    return call, intake.agent_id(call)
