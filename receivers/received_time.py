"""When the backend accepted a message: the timestamp storage receivers record with it.

Handlers set ``Message.accepted_at`` when they accept a call, so a row is dated by
its acceptance however long the message waited in a queue. Stored times identify a
record together with the agent id, so ``AgentClock`` keeps each agent's times
strictly increasing: a time that would repeat or go back is moved one microsecond
past that agent's previous one.
"""

import math
from datetime import UTC, datetime, timedelta

from poa_backend.core.message import Message

ONE_MICROSECOND = timedelta(microseconds=1)


def accepted_at(message: Message) -> datetime:
    """When the handler accepted ``message`` (now, if a handler set a time no clock can show)."""
    when = message.accepted_at
    if isinstance(when, int | float) and not isinstance(when, bool) and math.isfinite(when):
        try:
            return datetime.fromtimestamp(when, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return now()


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
