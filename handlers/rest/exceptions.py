"""The REST handler's answers to bad calls, and the one place that maps them to the contract's bodies.

The POA contract fixes most bodies as empty; the few with a body carry it on the
exception class (``body``), so views only raise.
"""

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from poa_backend.core import intake, metrics
from poa_backend.core.signals import DeliveryRefused


class ProtocolError(exceptions.APIException):
    """A refused call: ``status_code`` and ``body`` (None: an empty body) as the contract says."""

    body: dict[str, str] | None = None


class UnsupportedContentType(ProtocolError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "Content-Type must be application/json or application/msgpack"


class BodyTooLarge(ProtocolError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    body = {"error": "body_too_large"}


class MalformedBody(ProtocolError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "the body does not decode as its Content-Type"
    body = {"error": "malformed_body"}


class Unprocessable(ProtocolError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "a required field is missing or wrong"


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "token expired"
    body = {"error": "token_expired"}


class AuthUnavailable(ProtocolError):
    """The token cannot be checked now (the database is away and this process has not seen it
    lately): a temporary answer, so the agent calls again rather than renewing its session."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the token cannot be checked now"
    body = {"error": "auth_unavailable"}
    retry_after = 5


class ReceiversUnavailable(ProtocolError):
    """A durable receiver cannot take the message now (its spool is full): call again later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "a receiver cannot take messages now"
    body = {"error": "receivers_unavailable"}

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


#: The answer to each intake reason that is not the contract's empty 422.
REFUSALS: dict[str, type[ProtocolError]] = {
    intake.MALFORMED: MalformedBody,
    intake.TOO_LARGE: BodyTooLarge,
}


def protocol_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every refusal of the REST handler as the contract writes it; anything else stays a 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, intake.Refusal):
        exc = REFUSALS.get(exc.reason, Unprocessable)(str(exc))
    elif isinstance(exc, DeliveryRefused):
        exc = ReceiversUnavailable(exc.retry_after)
    if not isinstance(exc, exceptions.APIException):
        return None
    metrics.rejected("rest", str(exc.status_code))
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.MethodNotAllowed):
        headers["Allow"] = "POST"
    if isinstance(exc, AuthUnavailable | ReceiversUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(getattr(exc, "body", None), status=exc.status_code, headers=headers)
