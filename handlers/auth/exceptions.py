"""The auth endpoints' errors, and the one place that maps them to the contract's answers.

The contract wants empty bodies for 401, 404, 409 and 415; where it allows a body
(403 over plain HTTP, 422, 429, a malformed body), the answer is
``{"error": code, "detail": reason}`` in JSON.
"""

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from poa_backend.core import intake

EMPTY_BODY_ERRORS = (
    exceptions.NotAuthenticated,
    exceptions.AuthenticationFailed,
    exceptions.NotFound,
    exceptions.MethodNotAllowed,
    exceptions.UnsupportedMediaType,
)


class TLSRequired(exceptions.PermissionDenied):
    default_detail = "these endpoints carry passwords: use HTTPS"
    default_code = "tls_required"


class NameTaken(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "name_taken"


class Unprocessable(exceptions.APIException):
    """A body that decoded but does not say what the endpoint needs."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "invalid_request"


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "body_too_large"


#: The answer to each intake reason (a body that decoded but is not usable is a 422).
REFUSALS: dict[str, type[exceptions.APIException]] = {
    intake.MALFORMED: exceptions.ParseError,
    intake.TOO_LARGE: BodyTooLarge,
}


def auth_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map an exception raised in an auth view to its answer; None lets it become a 500."""
    if isinstance(exc, Http404 | exceptions.MethodNotAllowed):
        # An unsupported method on a known path is answered like an unknown path.
        return Response(status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.ValidationError):
        exc = Unprocessable(reason_from_detail(exc.detail))
    elif isinstance(exc, intake.Refusal):
        exc = REFUSALS.get(exc.reason, Unprocessable)(str(exc))
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, (*EMPTY_BODY_ERRORS, NameTaken)):
        return Response(status=exc.status_code, headers=headers)
    body = {"error": exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code}
    body["detail"] = str(exc.detail)
    return Response(body, status=exc.status_code, headers=headers)


def reason_from_detail(detail: Any) -> str:
    """One readable line from a DRF error detail: ``field: message; field: message``."""
    if isinstance(detail, dict):
        return "; ".join(
            f"{'body' if field == 'non_field_errors' else field}: {reason_from_detail(value)}"
            for field, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(reason_from_detail(item) for item in detail)
    return str(detail)
