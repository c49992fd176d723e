"""The auth endpoints (protocol section 6) as DRF views.

Every request passes, in order: known method (else 404, as an unknown path), TLS
(403), body size (413) and content type (415) of a body-carrying call, the failure
throttle (429), HTTP Basic credentials (401, counted as a failure), then the body (422).
"""

import logging
from typing import Any

from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, NotFound, UnsupportedMediaType
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handlers.auth import accounts
from handlers.auth.authentication import AgentUserAuthentication, StaffAuthentication
from handlers.auth.exceptions import BodyTooLarge, NameTaken, TLSRequired, auth_exception_handler
from handlers.auth.serializers import (
    AgentUserListSerializer,
    CreateUserSerializer,
    SessionSerializer,
    SetActiveSerializer,
    TokenSerializer,
    UserReferenceSerializer,
)
from handlers.auth.throttling import FailedCredentialsThrottle
from handlers.auth.tokens import issue_token
from handlers.models import AgentUser
from handlers.parsers import PROTOCOL_PARSERS
from poa_backend.core.conf import poa_settings

logger = logging.getLogger(__name__)

BODY_METHODS = {"POST", "PATCH", "PUT"}


class IsAuthenticated(BasePermission):
    """Some credentials were accepted (``UNAUTHENTICATED_USER`` is None in this project)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.user is not None


class AuthAPIView(APIView):
    """Base of the auth endpoints: checks in the order above, the contract's error answers."""

    #: Which kind of principal calls this endpoint; also the throttle's user-name scope.
    principal = "staff"
    authentication_classes = [StaffAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [FailedCredentialsThrottle]
    parser_classes = PROTOCOL_PARSERS
    renderer_classes = [JSONRenderer]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise NotFound()
        if not (request.is_secure() or poa_settings.ALLOW_PLAIN_HTTP_AUTH):
            raise TLSRequired()
        if request.method in BODY_METHODS:
            length = request.META.get("CONTENT_LENGTH") or "0"
            if not length.isdigit() or int(length) > poa_settings.MAX_BODY_SIZE:
                raise BodyTooLarge()
            if request.content_type.split(";")[0].strip().lower() not in {
                parser.media_type for parser in self.parser_classes
            }:
                raise UnsupportedMediaType(request.content_type)
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        # Locked-out clients are refused before any credential is checked (DRF throttles later).
        super().check_throttles(request)
        request.user  # noqa: B018 - authenticates now

    def check_throttles(self, request: Request) -> None:
        """Already done in ``perform_authentication``, before the credentials."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AuthenticationFailed):
            for throttle in self.get_throttles():
                throttle.record_failure(self.request, self)
            logger.info("%s %s: credentials refused", self.request.method, self.request.path)
        return super().handle_exception(exc)

    def get_exception_handler(self) -> Any:
        return auth_exception_handler

    def valid_body(self, serializer_class: type, request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class SessionView(AuthAPIView):
    """``POST /session``: an agent user trades its credentials for a token."""

    principal = "agent"
    authentication_classes = [AgentUserAuthentication]
    http_method_names = ["post"]

    def post(self, request: Request) -> Response:
        self.valid_body(SessionSerializer, request)
        return Response({"token": issue_token(request.user.name)})


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


class UserView(AuthAPIView):
    """``DELETE /user/<name>`` and ``PATCH /user/<name>`` ({"active": bool})."""

    http_method_names = ["delete", "patch"]

    def delete(self, request: Request, name: str) -> Response:
        if not accounts.delete_agent_user(name):
            raise NotFound()
        logger.info("agent user %s deleted by %s", name, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def patch(self, request: Request, name: str) -> Response:
        active = self.valid_body(SetActiveSerializer, request)["active"]
        if not accounts.set_active([name], active):
            raise NotFound()
        logger.info("agent user %s %s by %s", name, "activated" if active else "deactivated", request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BanTokenView(AuthAPIView):
    """``POST /blacklist/token``: refuse a currently valid token from now on."""

    http_method_names = ["post"]

    def post(self, request: Request) -> Response:
        token = self.valid_body(TokenSerializer, request).get("token")
        if not isinstance(token, str) or not accounts.ban_token(token):
            raise NotFound()
        logger.info("a token was banned by %s", request.user)
        return Response(status=status.HTTP_200_OK)


class BanUserView(AuthAPIView):
    """``POST /blacklist/user``: deactivate the agent user, so all its tokens stop working."""

    http_method_names = ["post"]

    def post(self, request: Request) -> Response:
        name = self.valid_body(UserReferenceSerializer, request).get("user")
        if not isinstance(name, str) or not accounts.ban_user(name):
            raise NotFound()
        logger.info("agent user %s banned by %s", name, request.user)
        return Response(status=status.HTTP_200_OK)
