"""The Message every handler builds and every receiver consumes."""

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Message:
    """One metric report of one agent, as a handler accepted it.

    ``accepted_at`` (seconds since the epoch) is when the handler accepted it: storage
    receivers date their rows with it, however long the message waited in a queue.
    ``message_type`` is the protocol call it came from; ``ping`` and ``bye`` are presence
    (receivers hear of them as inactive events), so receivers only ever see ``data``.
    ``assigns`` holds a handler's own notes for receivers that know them.
    """

    agent_id: str
    data_type: str
    data: dict[str, Any]
    message_type: str = "data"
    accepted_at: float = field(default_factory=time.time)
    assigns: dict[str, Any] = field(default_factory=dict)
