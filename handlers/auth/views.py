"""The auth endpoints (protocol section 6) as DRF views.

Every request passes, in order: known method (else 404, as an unknown path), TLS
(403), body size (413) and content type (415) of a body-carrying call, the failure
throttle (429), HTTP Basic credentials (401, counted as a failure), then the body: 400
when it does not decode, 422 when the core's intake check refuses it (a lone surrogate,
nesting past ``MAX_NESTING``) or its serializer does.
"""

import logging
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, UnsupportedMediaType
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handlers import parsers
from handlers.auth import accounts
from handlers.auth.authentication import AgentUserAuthentication, StaffAuthentication
from handlers.auth.exceptions import NameTaken, TLSRequired, auth_exception_handler
from handlers.auth.serializers import (
    AgentUserListSerializer,
    CreateUserSerializer,
    SessionSerializer,
    SetActiveSerializer,
    TokenSerializer,
    UserReferenceSerializer,
)
from handlers.auth.tokens import issue_token
from handlers.models import AgentUser
from poa_backend.core import intake
from poa_backend.core.conf import poa_settings
from poa_backend.core.credentials import FailedCredentialsThrottled

logger = logging.getLogger(__name__)

BODY_METHODS = {"POST", "PATCH", "PUT"}
SCHEMA_TAG = "Agent credentials (auth handler)"
ERRORS = {
    401: OpenApiResponse(description="Bad or missing credentials (empty body)."),
    403: OpenApiResponse(description="Plain HTTP where TLS is required."),
    404: OpenApiResponse(description="Unknown user or token, or a missing field (empty body)."),
    409: OpenApiResponse(description="The name exists (empty body)."),
    413: OpenApiResponse(description="The body is too large."),
    415: OpenApiResponse(description="Content-Type not application/json or application/msgpack (empty)."),
    422: OpenApiResponse(
        description="A field is wrong, or the body nests too deep (the reason in the body)."
    ),
    429: OpenApiResponse(description="Too many failed credential checks from this client or for this name."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The schema's error answers of an endpoint, by status."""
    return {code: ERRORS[code] for code in codes}


def auth_schema(summary: str, request: Any, responses: dict[int, Any]) -> Any:
    return extend_schema(tags=[SCHEMA_TAG], summary=summary, request=request, responses=responses)


def storable(name: str) -> bool:
    """Whether a user name could be stored at all: one with a NUL or a lone surrogate names no
    user (PostgreSQL refuses the NUL in a query), so it is simply unknown."""
    return "\x00" not in name and intake.is_valid_text(name)


class IsAuthenticated(BasePermission):
    """Some credentials were accepted (``UNAUTHENTICATED_USER`` is None in this project)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.user is not None


class AuthAPIView(FailedCredentialsThrottled, APIView):
    """Base of the auth endpoints: checks in the order above, the contract's error answers."""

    authentication_classes = [StaffAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = parsers.PROTOCOL_PARSERS
    renderer_classes = [JSONRenderer]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise NotFound()
        if not (request.is_secure() or poa_settings.ALLOW_PLAIN_HTTP_AUTH):
            raise TLSRequired()
        if request.method in BODY_METHODS:
            parsers.check_declared_size(request)
            if parsers.media_type(request)[0] not in parsers.DECODERS:
                raise UnsupportedMediaType(request.content_type)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AuthenticationFailed):
            logger.info("%s %s: credentials refused", self.request.method, self.request.path)
        return super().handle_exception(exc)  # counts the failure

    def get_exception_handler(self) -> Any:
        return auth_exception_handler

    def valid_body(self, serializer_class: type, request: Request) -> dict[str, Any]:
        """The body, checked by the core's intake (valid Unicode, bounded nesting), then by the serializer."""
        intake.check_json_value(request.data)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@auth_schema(
    "Trade agent user credentials (HTTP Basic) for a JWT",
    SessionSerializer,
    {
        200: inline_serializer("SessionToken", {"token": serializers.CharField(help_text="A JWT.")}),
        **errors(401, 403, 413, 415, 422, 429),
    },
)
class SessionView(AuthAPIView):
    """``POST /session``: an agent user trades its credentials for a token."""

    principal = "agent"
    authentication_classes = [AgentUserAuthentication]
    http_method_names = ["post"]

    def post(self, request: Request) -> Response:
        self.valid_body(SessionSerializer, request)
        return Response({"token": issue_token(request.user.name)})


@extend_schema_view(
    get=auth_schema(
        "List agent users",
        None,
        {
            200: inline_serializer(
                "AgentUserEntry",
                {
                    "user": serializers.CharField(),
                    "active": serializers.BooleanField(),
                    "created_at": serializers.DateTimeField(),
                },
                many=True,
            ),
            **errors(401, 403, 429),
        },
    ),
    post=auth_schema(
        "Create an agent user (a missing name or password is generated)",
        CreateUserSerializer,
        {
            200: inline_serializer(
                "CreatedAgentUser",
                {"user-name": serializers.CharField(), "password": serializers.CharField()},
            ),
            **errors(401, 403, 409, 413, 415, 422, 429),
        },
    ),
)
class UsersView(AuthAPIView):
    """``POST /user`` creates an agent user; ``GET /user`` lists them."""

    http_method_names = ["get", "post"]

    def get(self, request: Request) -> Response:
        return Response(AgentUserListSerializer(AgentUser.objects.all(), many=True).data)

    def post(self, request: Request) -> Response:
        body = self.valid_body(CreateUserSerializer, request)
        try:
            credentials = accounts.create_agent_user(body.get("user-name"), body.get("password"))
        except accounts.NameTaken:
            raise NameTaken()
        logger.info("agent user %s created by %s", credentials.user_name, request.user)
        return Response({"user-name": credentials.user_name, "password": credentials.password})


@extend_schema_view(
    delete=auth_schema(
        "Delete an agent user",
        None,
        {204: OpenApiResponse(description="Deleted."), **errors(401, 403, 404, 429)},
    ),
    patch=auth_schema(
        "Activate or deactivate an agent user",
        SetActiveSerializer,
        {204: OpenApiResponse(description="Done."), **errors(401, 403, 404, 413, 415, 422, 429)},
    ),
)
class UserView(AuthAPIView):
    """``DELETE /user/<name>`` and ``PATCH /user/<name>`` ({"active": bool})."""

    http_method_names = ["delete", "patch"]

    def delete(self, request: Request, name: str) -> Response:
        if not storable(name) or not accounts.delete_agent_user(name):
            raise NotFound()
        logger.info("agent user %s deleted by %s", name, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def patch(self, request: Request, name: str) -> Response:
        active = self.valid_body(SetActiveSerializer, request)["active"]
        if not storable(name) or not accounts.set_active([name], active):
            raise NotFound()
        logger.info("agent user %s %s by %s", name, "activated" if active else "deactivated", request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@auth_schema(
    "Refuse a currently valid token from now on",
    TokenSerializer,
    {200: OpenApiResponse(description="Banned (empty body)."), **errors(401, 403, 404, 413, 415, 422, 429)},
)
class BanTokenView(AuthAPIView):
    """``POST /blacklist/token``: refuse a currently valid token from now on."""

    http_method_names = ["post"]

    def post(self, request: Request) -> Response:
        token = self.valid_body(TokenSerializer, request).get("token")
        if not isinstance(token, str) or not accounts.ban_token(token):
            raise NotFound()
        logger.info("a token was banned by %s", request.user)
        return Response(status=status.HTTP_200_OK)


@auth_schema(
    "Deactivate an agent user, so all its tokens stop working",
    UserReferenceSerializer,
    {200: OpenApiResponse(description="Banned (empty body)."), **errors(401, 403, 404, 413, 415, 422, 429)},
)
class BanUserView(AuthAPIView):
    """``POST /blacklist/user``: deactivate the agent user, so all its tokens stop working."""

    http_method_names = ["post"]

    def post(self, request: Request) -> Response:
        name = self.valid_body(UserReferenceSerializer, request).get("user")
        if not isinstance(name, str) or not storable(name) or not accounts.ban_user(name):
            raise NotFound()
        logger.info("agent user %s banned by %s", name, request.user)
        return Response(status=status.HTTP_200_OK)


class AgentUserScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names and describes ``AgentUserAuthentication``."""

    target_class = AgentUserAuthentication
    name = "agentUserBasic"
    description = "An agent user's name and password."

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic", "description": self.description}


class StaffScheme(AgentUserScheme):
    """How the OpenAPI schema names and describes ``StaffAuthentication``."""

    target_class = StaffAuthentication
    name = "staffBasic"
    description = "A Django staff user's name and password."
