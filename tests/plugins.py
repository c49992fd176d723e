"""Plug-ins used by the tests, named in rows the way a third party's would be."""

import json
import threading
import time
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError

from poa_backend.protocol import Message
from receivers.base import Receiver

# In-process record of what each RecordingReceiver (by row name) got.
recorded: dict[str, list[tuple[str, Any]]] = defaultdict(list)
_lock = threading.Lock()


class RecordingReceiver(Receiver):
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


class RaisingReceiver(Receiver):
    def handle_messages(self, messages: list[Message]) -> None:
        raise RuntimeError("this receiver always fails")


class SlowReceiver(RecordingReceiver):
    """Sleeps a second per batch."""

    def handle_messages(self, messages: list[Message]) -> None:
        time.sleep(1.0)
        super().handle_messages(messages)


class PickyReceiver(Receiver):
    """Accepts only options with an integer ``level``."""

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(options.get("level"), int):
            raise ValidationError("level: must be an integer")
        return options


class NotAPlugin:
    pass
