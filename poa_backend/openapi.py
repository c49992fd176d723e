"""The OpenAPI description of every HTTP endpoint, at ``/api/schema/`` (docs at ``/api/docs/``).

Plug-in routes are not in ``ROOT_URLCONF``: each request gets a URLconf built from the
enabled plug-ins (poa_backend/routing.py), so the schema is generated from that one and
lists exactly what the server serves right now.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from poa_backend.routing import current_urlconf


class SchemaView(SpectacularAPIView):
    """OpenAPI 3 schema (YAML; ``?format=json`` for JSON) of the routes served now."""

    def _get_schema_response(self, request: Request) -> Response:
        self.urlconf = current_urlconf()
        return super()._get_schema_response(request)


class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema; its assets come from drf-spectacular-sidecar, never a CDN."""

    url_name = "schema"


# The plug-ins' own views, described from here (their codes and bodies are the POA contract).

AGENT_TAG = "POA agent calls (REST handler)"
AUTH_TAG = "Agent credentials (auth handler)"

EMPTY = None


SUCCESS = inline_serializer("Success", {"result": serializers.CharField(default="success")})
TOKEN_EXPIRED = inline_serializer("TokenExpired", {"error": serializers.CharField(default="token_expired")})


def _answer(description: str, body: Any = EMPTY) -> OpenApiResponse:
    return OpenApiResponse(response=body, description=description)


def _agent_call(summary: str, description: str, with_data: bool) -> Any:
    fields = {"id": serializers.CharField(help_text="The agent's id.")}
    if with_data:
        fields["type"] = serializers.CharField(help_text="A configured metric type, e.g. ethereum_metrics.")
        fields["data"] = serializers.DictField(help_text='The payload: {"type": KIND, "body": {...}}.')
    name = "".join(word.capitalize() for word in summary.split()[1:]) or "Call"
    return extend_schema(
        tags=[AGENT_TAG],
        summary=summary,
        description=description,
        request=inline_serializer(f"{name}Call", fields),
        responses={
            200: _answer('Accepted: {"result":"success"}.', SUCCESS),
            400: _answer("The body cannot be decoded as the declared Content-Type (empty body)."),
            401: _answer(
                'No, malformed, invalid or banned token (empty body); {"error":"token_expired"} '
                "when it expired.",
                TOKEN_EXPIRED,
            ),
            413: _answer("The body is larger than MAX_BODY_SIZE (empty body)."),
            415: _answer("Content-Type missing or not application/json or application/msgpack (empty body)."),
            422: _answer("A required field is missing or wrong (empty body)."),
        },
    )


class _Described(OpenApiViewExtension):
    """Replaces a plug-in view by a subclass carrying ``decorator`` (the view itself is untouched)."""

    decorator: Any = None

    def view_replacement(self) -> type:
        return type(self).decorator(type(self.target_class.__name__, (self.target_class,), {}))


class PingViewSchema(_Described):
    target_class = "handlers.rest.views.PingView"
    decorator = _agent_call(
        "POST ping", "The agent is active: starts or refreshes its activity monitor.", False
    )


class DataViewSchema(_Described):
    target_class = "handlers.rest.views.DataView"
    decorator = _agent_call(
        "POST data", "A metric message, handed to every receiver subscribed to its type.", True
    )


class ByeViewSchema(_Described):
    target_class = "handlers.rest.views.ByeView"
    decorator = _agent_call("POST bye", "The agent leaves: receivers hear it is inactive right away.", False)


def _auth_errors(*codes: int) -> dict[int, OpenApiResponse]:
    known = {
        401: _answer("Bad or missing credentials (empty body)."),
        403: _answer("Plain HTTP where TLS is required."),
        404: _answer("Unknown user or token, or a missing field (empty body)."),
        409: _answer("The name exists (empty body)."),
        413: _answer("The body is too large."),
        415: _answer("Content-Type not application/json or application/msgpack (empty body)."),
        422: _answer("A field has the wrong type (the reason in the body)."),
        429: _answer("Too many failed credential checks from this client or for this name."),
    }
    return {code: known[code] for code in codes}


def _auth_serializer(name: str) -> Any:
    from importlib import import_module

    return getattr(import_module("handlers.auth.serializers"), name)


class SessionViewSchema(OpenApiViewExtension):
    target_class = "handlers.auth.views.SessionView"

    def view_replacement(self) -> type:
        token = inline_serializer("SessionToken", {"token": serializers.CharField(help_text="A JWT.")})

        @extend_schema(
            tags=[AUTH_TAG],
            summary="Trade agent user credentials (HTTP Basic) for a JWT",
            request=_auth_serializer("SessionSerializer"),
            responses={200: token, **_auth_errors(401, 403, 413, 415, 422, 429)},
        )
        class Described(self.target_class):
            pass

        return Described


class UsersViewSchema(OpenApiViewExtension):
    target_class = "handlers.auth.views.UsersView"

    def view_replacement(self) -> type:
        created = inline_serializer(
            "CreatedAgentUser", {"user-name": serializers.CharField(), "password": serializers.CharField()}
        )
        listed = inline_serializer(
            "AgentUserEntry",
            {
                "user": serializers.CharField(),
                "active": serializers.BooleanField(),
                "created_at": serializers.DateTimeField(),
            },
            many=True,
        )

        @extend_schema_view(
            get=extend_schema(
                tags=[AUTH_TAG],
                summary="List agent users",
                request=None,
                responses={200: listed, **_auth_errors(401, 403, 429)},
            ),
            post=extend_schema(
                tags=[AUTH_TAG],
                summary="Create an agent user (a missing name or password is generated)",
                request=_auth_serializer("CreateUserSerializer"),
                responses={200: created, **_auth_errors(401, 403, 409, 413, 415, 422, 429)},
            ),
        )
        class Described(self.target_class):
            pass

        return Described


class UserViewSchema(OpenApiViewExtension):
    target_class = "handlers.auth.views.UserView"

    def view_replacement(self) -> type:
        @extend_schema_view(
            delete=extend_schema(
                tags=[AUTH_TAG],
                summary="Delete an agent user",
                request=None,
                responses={204: _answer("Deleted."), **_auth_errors(401, 403, 404, 429)},
            ),
            patch=extend_schema(
                tags=[AUTH_TAG],
                summary="Activate or deactivate an agent user",
                request=_auth_serializer("SetActiveSerializer"),
                responses={204: _answer("Done."), **_auth_errors(401, 403, 404, 413, 415, 422, 429)},
            ),
        )
        class Described(self.target_class):
            pass

        return Described


class BanTokenViewSchema(OpenApiViewExtension):
    target_class = "handlers.auth.views.BanTokenView"

    def view_replacement(self) -> type:
        @extend_schema(
            tags=[AUTH_TAG],
            summary="Refuse a currently valid token from now on",
            request=_auth_serializer("TokenSerializer"),
            responses={
                200: _answer("Banned (empty body)."),
                **_auth_errors(401, 403, 404, 413, 415, 422, 429),
            },
        )
        class Described(self.target_class):
            pass

        return Described


class BanUserViewSchema(OpenApiViewExtension):
    target_class = "handlers.auth.views.BanUserView"

    def view_replacement(self) -> type:
        @extend_schema(
            tags=[AUTH_TAG],
            summary="Deactivate an agent user, so all its tokens stop working",
            request=_auth_serializer("UserReferenceSerializer"),
            responses={
                200: _answer("Banned (empty body)."),
                **_auth_errors(401, 403, 404, 413, 415, 422, 429),
            },
        )
        class Described(self.target_class):
            pass

        return Described


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "handlers.rest.authentication.BearerTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class AgentUserScheme(OpenApiAuthenticationExtension):
    target_class = "handlers.auth.authentication.AgentUserAuthentication"
    name = "agentUserBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic", "description": "An agent user's name and password."}


class StaffScheme(OpenApiAuthenticationExtension):
    target_class = "handlers.auth.authentication.StaffAuthentication"
    name = "staffBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic", "description": "A Django staff user's name and password."}
