"""Agents authenticate with ``Authorization: Bearer <JWT>`` from the session endpoint."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from handlers.auth import tokens
from handlers.rest.exceptions import AuthUnavailable, TokenExpired


@dataclass(frozen=True, slots=True)
class AgentPrincipal:
    """``request.user`` of an agent call: the agent user name its token stands for."""

    name: str
    is_authenticated = True


@contextmanager
def token_refusals() -> Iterator[None]:
    """The auth app's verdicts as DRF's refusals: 401 (with a body once expired), or 503."""
    try:
        yield
    except tokens.TokenExpired:
        raise TokenExpired()
    except tokens.TokenError:
        raise AuthenticationFailed()
    except tokens.CheckUnavailable:
        raise AuthUnavailable()


class BearerTokenAuthentication(BaseAuthentication):
    """Checks the token with the auth app's cached check (no query for a token seen recently)."""

    def authenticate(self, request: Request) -> tuple[AgentPrincipal, str] | None:
        token = tokens.bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        with token_refusals():
            return AgentPrincipal(tokens.check_token(token)), token

    async def aauthenticate(self, request: Request) -> tuple[AgentPrincipal, str] | None:
        """``authenticate`` from async views: a cached verdict at once, else a worker thread."""
        token = tokens.bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        with token_refusals():
            return AgentPrincipal(await tokens.acheck_token(token)), token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class HasAgentToken(BasePermission):
    """Only calls carrying a valid token get through (DRF answers 401 otherwise)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.auth is not None


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names and describes ``BearerTokenAuthentication``."""

    target_class = BearerTokenAuthentication
    name = "agentToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
