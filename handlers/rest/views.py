"""The three agent calls. Each view only says what a valid call does; refusals are exceptions
mapped to the contract's answers in ``exceptions.protocol_exception_handler``.

Checks run in the contract's order: method, content type (415), size (413), decoding
(400), ``id`` (422), token (401), then the call's own fields (422).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import RedisError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handlers.parsers import PROTOCOL_PARSERS
from handlers.rest.authentication import BearerTokenAuthentication, HasAgentToken
from handlers.rest.bodies import read_call
from handlers.rest.exceptions import PresenceUnavailable, Unprocessable, protocol_exception_handler
from handlers.rest.negotiation import JSONAnswerNegotiation
from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from poa_backend.core.metric_types import is_metric_type

SUCCESS = {"result": "success"}


class AgentCallView(APIView):
    """A POA call: ``self.body`` and ``self.agent_id`` are set and the token checked before ``post``."""

    handler: HandlerPlugin | None = None
    http_method_names = ["post"]
    parser_classes = PROTOCOL_PARSERS
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswerNegotiation
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasAgentToken]
    throttle_classes = []

    body: dict[str, Any]
    agent_id: str

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method.lower() not in self.http_method_names:
            self.http_method_not_allowed(request)
        self.body, self.agent_id = read_call(request)
        super().initial(request, *args, **kwargs)  # authentication and permission: 401

    def get_exception_handler(self) -> Any:
        return protocol_exception_handler


@contextmanager
def presence_store() -> Iterator[None]:
    """A presence store out of reach (Redis down) is a 503 the agent can retry, not a 500."""
    try:
        yield
    except RedisError:
        raise PresenceUnavailable()


class PingView(AgentCallView):
    """``POST /ping``: the agent is active; starts or refreshes its activity monitor."""

    def post(self, request: Request) -> Response:
        with presence_store():
            self.handler.ping(self.agent_id)
        return Response(SUCCESS)


class ByeView(AgentCallView):
    """``POST /bye``: the agent leaves on purpose; receivers hear it is inactive right away."""

    def post(self, request: Request) -> Response:
        with presence_store():
            self.handler.publish_inactive(self.agent_id)
        return Response(SUCCESS)


class DataView(AgentCallView):
    """``POST /data``: a metric message for every receiver subscribed to its type; never waits for them."""

    def post(self, request: Request) -> Response:
        data_type, data = self.body.get("type"), self.body.get("data")
        if not is_metric_type(data_type):
            raise Unprocessable("type: not a configured metric type")
        if not isinstance(data, dict):
            raise Unprocessable("data: missing or not an object")
        self.handler.send_to_receivers(
            Message(agent_id=self.agent_id, data_type=data_type, data=data)
        )
        return Response(SUCCESS)
