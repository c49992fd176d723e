"""The three agent calls. Each view only says what a valid call does; refusals are exceptions
mapped to the contract's answers in ``exceptions.protocol_exception_handler``.

Answers come in the contract's order: method, content type (415), size (413), decoding
(400), ``id`` (422), token (401), then the call's own fields (422). The work follows the
answers: every body is decoded and its ``id`` checked (a 400 or 422 must be told from a
401), but the walk over ``data`` and the metric-type look-up run only for a valid token.
"""

import functools
from typing import Any

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handlers.models import NodeTransport
from handlers.parsers import PROTOCOL_PARSERS
from handlers.rest.authentication import BearerTokenAuthentication, HasAgentToken
from handlers.rest.bodies import read_call
from handlers.rest.exceptions import protocol_exception_handler
from handlers.rest.negotiation import JSONAnswerNegotiation
from handlers.rest.renderers import SUCCESS, AgentAnswerRenderer
from handlers.transports import note_transport_soon
from poa_backend.core import intake
from poa_backend.core.handler import HandlerPlugin

SCHEMA_TAG = "POA agent calls (REST handler)"


def agent_call_schema(summary: str, description: str, with_data: bool = False) -> Any:
    """The OpenAPI description of one agent call: its body and the contract's answers."""
    fields = {
        "id": serializers.CharField(help_text="The agent's id: 1 to 256 characters, no control characters.")
    }
    if with_data:
        fields["type"] = serializers.CharField(help_text="A configured metric type, e.g. ethereum_metrics.")
        fields["data"] = serializers.DictField(help_text='The payload: {"type": KIND, "body": {...}}.')
    name = "".join(word.capitalize() for word in summary.split()[1:])
    success = inline_serializer("Success", {"result": serializers.CharField(default="success")})
    expired = inline_serializer("TokenExpired", {"error": serializers.CharField(default="token_expired")})
    return extend_schema(
        tags=[SCHEMA_TAG],
        summary=summary,
        description=description,
        request=inline_serializer(f"{name}Call", fields),
        responses={
            200: OpenApiResponse(success, 'Accepted: {"result":"success"}.'),
            400: OpenApiResponse(description='The body cannot be decoded: {"error":"malformed_body"}.'),
            401: OpenApiResponse(
                expired,
                'No, invalid or banned token (empty body); {"error":"token_expired"} once expired.',
            ),
            413: OpenApiResponse(description='The body is over MAX_BODY_SIZE: {"error":"body_too_large"}.'),
            415: OpenApiResponse(
                description="Content-Type not application/json or application/msgpack (empty)."
            ),
            422: OpenApiResponse(description="A required field is missing or wrong (empty body)."),
        },
    )


def released(response: Response, request: Request) -> Response:
    """``response`` rendered, and what DRF left pointing back at the view dropped.

    DRF's view, its Request and its Response refer to one another (``parser_context``,
    ``renderer_context``), so every call's thirty-odd objects were left to the cyclic garbage
    collector, and walked by each young collection until then. Rendered now (as the server
    would next), nothing needs those contexts: reference counting frees the call once answered.
    """
    response.render()
    response.renderer_context = None
    request.parser_context = None
    return response


@functools.cache
def _instances(classes: tuple[type, ...]) -> tuple[Any, ...]:
    return tuple(cls() for cls in classes)


class AgentCallView(APIView):
    """A POA call, served on the event loop (``poa_backend.http``): DRF's dispatch with the
    steps that may block awaited. ``self.call`` and ``self.agent_id`` are set and the token
    checked before ``post``; refusals are DRF exceptions, answered by DRF's exception handling
    and renderer as in any view."""

    handler: HandlerPlugin | None = None
    http_method_names = ["post"]
    parser_classes = PROTOCOL_PARSERS
    renderer_classes = [AgentAnswerRenderer]
    content_negotiation_class = JSONAnswerNegotiation
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasAgentToken]
    throttle_classes = []

    call: dict[str, Any]
    agent_id: str

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            if request.method.lower() not in self.http_method_names:
                self.http_method_not_allowed(request)
            self.call, self.agent_id = await read_call(request)
            for authenticator in request.authenticators:  # DRF's, from authentication_classes
                authenticated = await authenticator.aauthenticate(request)
                if authenticated is not None:
                    request.user, request.auth = authenticated
                    break
            self.initial(request, *args, **kwargs)  # negotiation, permission (401), throttles
            response = await self.post(request)
        except Exception as exc:
            response = self.handle_exception(exc)
        return released(self.finalize_response(request, response, *args, **kwargs), request)

    def get_exception_handler(self) -> Any:
        return protocol_exception_handler

    # DRF builds its parsers, renderers, authenticators, permissions and negotiator anew for
    # every request; these keep no state, so every agent call shares one of each.

    def get_parsers(self) -> tuple[Any, ...]:
        return _instances(tuple(self.parser_classes))

    def get_renderers(self) -> tuple[Any, ...]:
        return _instances(tuple(self.renderer_classes))

    def get_authenticators(self) -> tuple[Any, ...]:
        return _instances(tuple(self.authentication_classes))

    def get_permissions(self) -> tuple[Any, ...]:
        return _instances(tuple(self.permission_classes))

    def get_content_negotiator(self) -> Any:
        return _instances((self.content_negotiation_class,))[0]

    async def post(self, request: Request) -> Response:
        raise NotImplementedError


@agent_call_schema("POST ping", "The agent is active: starts or refreshes its activity monitor.")
class PingView(AgentCallView):
    """``POST /ping``: the agent is active; starts or refreshes its activity monitor."""

    async def post(self, request: Request) -> Response:
        await self.handler.aping(self.agent_id)  # presence keeps answering while Redis is away
        return Response(SUCCESS)


@agent_call_schema("POST bye", "The agent leaves: receivers hear it is inactive right away.")
class ByeView(AgentCallView):
    """``POST /bye``: the agent leaves on purpose; receivers hear it is inactive right away."""

    async def post(self, request: Request) -> Response:
        await self.handler.apublish_inactive(self.agent_id)
        return Response(SUCCESS)


@agent_call_schema(
    "POST data", "A metric message, handed to every receiver subscribed to its type.", with_data=True
)
class DataView(AgentCallView):
    """``POST /data``: a metric message for every receiver subscribed to its type; returns once
    the durable receivers have it, never waits for their sinks."""

    async def post(self, request: Request) -> Response:
        message = await intake.adata_message(self.agent_id, self.call)
        await self.handler.asend_to_receivers(message)
        note_transport_soon(message, NodeTransport.REST, request.user.name)
        return Response(SUCCESS)
