"""Plug-ins used by the tests, named in rows the way a third party's would be."""

import json
import threading
import time
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from poa_backend.core.metric_types import is_metric_type
from poa_backend.core.receiver import ReceiverPlugin

# In-process record of what each RecordingReceiver (by row name) got.
recorded: dict[str, list[tuple[str, Any]]] = defaultdict(list)
_lock = threading.Lock()


class RecordingReceiver(ReceiverPlugin):
    """Records every event: in memory, and as JSON lines in ``options["path"]`` when given."""

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        if "path" in options and not isinstance(options["path"], str):
            raise ValidationError("path: must be a string")
        return options

    def _record(self, event: str, value: Any) -> None:
        with _lock:
            recorded[self.name].append((event, value))
            if "path" in self.options:
                with open(self.options["path"], "a") as out:
                    out.write(json.dumps({"event": event, "value": value, "at": time.time()}) + "\n")

    def handle_messages(self, messages: list[Message]) -> None:
        for message in messages:
            self._record(
                "message",
                {
                    "agent_id": message.agent_id,
                    "data_type": message.data_type,
                    "message_type": str(message.message_type),
                    "data": message.data,
                },
            )

    def handle_inactive(self, agent_id: str) -> None:
        self._record("inactive", agent_id)

    def handle_out_of_band(self, payload: Any) -> None:
        self._record("out_of_band", payload)

    def terminate(self) -> None:
        self._record("terminate", None)


class RaisingReceiver(ReceiverPlugin):
    def handle_messages(self, messages: list[Message]) -> None:
        raise RuntimeError("this receiver always fails")


class SinkAwayReceiver(ReceiverPlugin):
    """A sink that refuses every connection; counts the calls it was given."""

    calls = 0

    def handle_messages(self, messages: list[Message]) -> None:
        type(self).calls += 1
        raise ConnectionRefusedError("the sink is away")


class SlowReceiver(RecordingReceiver):
    """Sleeps a second per batch."""

    def handle_messages(self, messages: list[Message]) -> None:
        time.sleep(1.0)
        super().handle_messages(messages)


class InactiveRunsReceiver(RecordingReceiver):
    """Records each call of the batch hook for inactive agents; a run holding ``"poison"`` raises."""

    def handle_inactive_agents(self, agent_ids: list[str]) -> None:
        if "poison" in agent_ids:
            raise ValueError("this receiver refuses the poison agent")
        self._record("inactive_agents", list(agent_ids))


class PickyReceiver(ReceiverPlugin):
    """Accepts only options with an integer ``level``."""

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(options.get("level"), int):
            raise ValidationError("level: must be an integer")
        return options


class NotAPlugin:
    pass


class FormPingHandler(HandlerPlugin):
    """A third party's handler: agents post HTML forms (the example in docs/handlers.md).

    ``POST /<prefix>/data`` with form fields ``id``, ``type`` and any others (the data);
    ``POST /<prefix>/bye`` with ``id``. Option ``prefix`` (default ``form``).
    """

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        prefix = options.setdefault("prefix", "form")
        if not isinstance(prefix, str) or not prefix.isidentifier():
            raise ValidationError("prefix: must be a word of letters, digits and _")
        return options

    def http_urls(self) -> list[URLPattern]:
        prefix = self.options["prefix"]
        return [
            path(f"{prefix}/data", csrf_exempt(require_POST(self.data))),
            path(f"{prefix}/bye", csrf_exempt(require_POST(self.bye))),
        ]

    def data(self, request: HttpRequest) -> HttpResponse:
        fields = request.POST.dict()
        agent_id, data_type = fields.pop("id", ""), fields.pop("type", "")
        if not agent_id or not is_metric_type(data_type):
            return HttpResponse(status=422)
        self.ping(agent_id)
        self.send_to_receivers(Message(agent_id=agent_id, data_type=data_type, data=fields))
        return JsonResponse({"result": "success"})

    def bye(self, request: HttpRequest) -> HttpResponse:
        agent_id = request.POST.get("id", "")
        if not agent_id:
            return HttpResponse(status=422)
        self.publish_inactive(agent_id)
        return JsonResponse({"result": "success"})


class InjectHandler(HandlerPlugin):
    """Hands messages straight to the receivers of a live server, without the agent protocol.

    ``POST /test/inject`` with a JSON object, or a list of them, each
    ``{"agent_id", "data_type", "data"}`` or ``{"inactive": agent_id}``; handled in order.
    """

    def http_urls(self) -> list[URLPattern]:
        return [path("test/inject", csrf_exempt(require_POST(self.inject)))]

    def inject(self, request: HttpRequest) -> HttpResponse:
        items = json.loads(request.body)
        items = items if isinstance(items, list) else [items]
        for item in items:
            if "inactive" in item:
                self.ping(item["inactive"])
                self.publish_inactive(item["inactive"])
            else:
                self.send_to_receivers(
                    Message(agent_id=item["agent_id"], data_type=item["data_type"], data=item["data"])
                )
        return JsonResponse({"injected": len(items)})
