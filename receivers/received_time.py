"""When the backend accepted a message: the timestamp storage receivers record with it.

Handlers set ``Message.accepted_at`` when they accept a call, so a row is dated by
its acceptance however long the message waited in a queue or a spool. Stored times
identify a record together with the agent id, so the dispatcher makes each agent's
times distinct at acceptance (``AcceptanceClock``), before anything is spooled: a
message redelivered after an outage or a restart carries the very time it was
stored with, and the storage's unique key turns the second write into a no-op.
"""

import math
import threading
import time
from datetime import UTC, datetime

from cachetools import LRUCache

from poa_backend.core.message import Message

#: Agents whose latest acceptance time is remembered (the least recently heard go first).
MAX_AGENTS = 100_000


def accepted_at(message: Message) -> datetime:
    """When the handler accepted ``message`` (now, if a handler set a time no clock can show)."""
    when = message.accepted_at
    if isinstance(when, int | float) and not isinstance(when, bool) and math.isfinite(when):
        try:
            return datetime.fromtimestamp(when, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return now()


class AcceptanceClock:
    """Per agent and metric type (a storage table holds one type), acceptance times strictly
    increasing in whole microseconds: a time that would repeat or go back (one clock tick of a
    busy handler) is moved one microsecond past the previous one, so (agent, time) never collides."""

    def __init__(self) -> None:
        #: agent -> metric type -> the last time handed out, in microseconds.
        self._last: LRUCache[str, dict[str, int]] = LRUCache(MAX_AGENTS)
        self._lock = threading.Lock()

    def stamp(self, message: Message) -> None:
        """Set ``message.accepted_at`` to this agent's next distinct microsecond."""
        micros = round(accepted_at(message).timestamp() * 1_000_000)
        with self._lock:
            times = self._last.get(message.agent_id)
            if times is None:
                times = self._last[message.agent_id] = {}
            last = times.get(message.data_type)
            if last is not None and micros <= last:
                micros = last + 1
            times[message.data_type] = micros
        message.accepted_at = micros / 1_000_000

    def forget(self, agent_id: str) -> None:
        """Drop an agent that left; its next time starts fresh (and is later anyway)."""
        with self._lock:
            self._last.pop(agent_id, None)


def now() -> datetime:
    return datetime.fromtimestamp(time.time(), tz=UTC)
