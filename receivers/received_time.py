"""When the backend received a message: the timestamp storage receivers record with it.

A handler may note the moment it accepted a call as ``message.assigns["received_at"]``
(seconds since the epoch, a float). Without that note a receiver uses the time its
batch started. Stored times identify a record together with the agent id, so
``AgentClock`` keeps each agent's times strictly increasing: a time that would
repeat or go back is moved one microsecond past that agent's previous one.
"""

import math
from datetime import UTC, datetime, timedelta

from poa_backend.protocol import Message

RECEIVED_AT = "received_at"
ONE_MICROSECOND = timedelta(microseconds=1)


def received_at(message: Message, default: datetime) -> datetime:
    """The time a handler noted on the message, else ``default``."""
    noted = message.assigns.get(RECEIVED_AT)
    if isinstance(noted, int | float) and not isinstance(noted, bool) and math.isfinite(noted):
        try:
            return datetime.fromtimestamp(noted, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return default


class AgentClock:
    """Hands out a distinct, increasing time per agent, so (agent, time) never collides."""

    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}

    def stamp(self, agent_id: str, when: datetime) -> datetime:
        last = self._last.get(agent_id)
        if last is not None and when <= last:
            when = last + ONE_MICROSECOND
        self._last[agent_id] = when
        return when

    def forget(self, agent_id: str) -> None:
        """Drop an agent that left; its next time starts fresh (and is later anyway)."""
        self._last.pop(agent_id, None)


def now() -> datetime:
    return datetime.now(tz=UTC)
