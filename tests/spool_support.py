"""A durable test receiver whose sink the test can take away, or make refuse an agent's messages."""

import threading
from collections import defaultdict
from typing import Any

from django.db import IntegrityError

from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin

#: Per receiver name: what its sink took, in order (agent id, data["n"]).
stored: dict[str, list[tuple[str, Any]]] = defaultdict(list)
#: Receiver names whose sink is away (every call fails with a refused connection).
away: set[str] = set()
#: Agent ids whose messages every sink refuses for good.
refused_agents: set[str] = set()
calls: dict[str, int] = defaultdict(int)
_lock = threading.Lock()


class DurableSink(ReceiverPlugin):
    durable = True

    def handle_messages(self, messages: list[Message]) -> None:
        with _lock:
            calls[self.name] += 1
        if self.name in away:
            raise ConnectionRefusedError("the sink is away")
        if any(message.agent_id in refused_agents for message in messages):
            raise IntegrityError("the sink refuses this row")
        with _lock:
            stored[self.name].extend((m.agent_id, m.data.get("n")) for m in messages)


def reset() -> None:
    with _lock:
        stored.clear()
        calls.clear()
    away.clear()
    refused_agents.clear()
