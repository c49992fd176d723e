"""Agent presence: who is active, and one ``agent_inactive`` signal when an agent goes quiet.

A ping starts or refreshes an agent's active period; when ``INACTIVITY_TIMEOUT``
seconds pass without one, or the agent says bye, the period ends and
``poa_backend.core.signals.agent_inactive`` fires exactly once for it. A later ping
starts a new period. A bye from an agent with no active period (never pinged, or
already declared inactive) fires nothing: the agent is inactive already.

Embedded, the deadlines live in this process. With ``REDIS_URL`` they live in one
Redis sorted set (agent -> deadline, on Redis's clock) shared by every process:
a ping on any process refreshes the agent, and each process's sweeper pops
expired agents atomically, so exactly one process fires per expiry.

Handlers use it through their plug-in base (``HandlerPlugin.ping`` / ``publish_inactive``),
or the module's ``monitor``: ``ping``/``bye`` from sync code,
``aping``/``abye`` from async code (they never block the event loop).
"""

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings

from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from poa_backend.core.signals import agent_inactive

logger = logging.getLogger(__name__)

#: Longest pause between two sweeps for expired agents, in seconds.
SWEEP_INTERVAL = 0.25
#: Most agents one Redis sweep pops (the next sweep, right after, takes the rest).
SWEEP_BATCH = 500


class Presence:
    """The presence contract; the two stores below differ only in where deadlines live."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = float(poa_settings.INACTIVITY_TIMEOUT if timeout is None else timeout)
        self._sweeper = Loop("presence-sweeper", self.sweep, self.seconds_to_next_sweep)

    def ping(self, agent_id: str) -> None:
        """Start or refresh the agent's active period."""
        raise NotImplementedError

    async def aping(self, agent_id: str) -> None:
        """``ping`` from async code."""
        raise NotImplementedError

    def bye(self, agent_id: str) -> None:
        """End the agent's active period now (fires ``agent_inactive`` if it had one)."""
        raise NotImplementedError

    async def abye(self, agent_id: str) -> None:
        """``bye`` from async code."""
        raise NotImplementedError

    def sweep(self) -> list[str]:
        """End every period whose deadline has passed, fire for each; returns those agents."""
        raise NotImplementedError

    def seconds_to_next_sweep(self) -> float:
        return SWEEP_INTERVAL

    # Life cycle: one sweeper per process, between backend_started and backend_stopping.

    def start(self, **kwargs: object) -> None:
        self._sweeper.start()

    def stop(self, **kwargs: object) -> None:
        self._sweeper.stop()

    def _fire(self, agent_ids: list[str]) -> None:
        for agent_id in agent_ids:
            agent_inactive.send(sender=Presence, agent_id=agent_id)


class LocalPresence(Presence):
    """Deadlines in this process, in ping order (equal timeouts keep deadlines in that order)."""

    def __init__(self, timeout: float | None = None) -> None:
        super().__init__(timeout)
        self._deadlines: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def ping(self, agent_id: str) -> None:
        with self._lock:  # the clock is read under the lock, so the order stays the deadlines' order
            self._deadlines[agent_id] = time.monotonic() + self.timeout
            self._deadlines.move_to_end(agent_id)

    async def aping(self, agent_id: str) -> None:
        self.ping(agent_id)  # a dict update under a lock held for microseconds

    def bye(self, agent_id: str) -> None:
        with self._lock:
            was_active = self._deadlines.pop(agent_id, None) is not None
        if was_active:
            self._fire([agent_id])

    async def abye(self, agent_id: str) -> None:
        self.bye(agent_id)

    def sweep(self) -> list[str]:
        now = time.monotonic()
        expired: list[str] = []
        with self._lock:
            while self._deadlines:
                agent_id, deadline = next(iter(self._deadlines.items()))
                if deadline > now:
                    break
                self._deadlines.popitem(last=False)
                expired.append(agent_id)
        self._fire(expired)
        return expired

    def seconds_to_next_sweep(self) -> float:
        with self._lock:
            if not self._deadlines:
                return SWEEP_INTERVAL
            first = next(iter(self._deadlines.values()))
        return min(SWEEP_INTERVAL, max(0.01, first - time.monotonic()))

    def is_active(self, agent_id: str) -> bool:
        with self._lock:
            return agent_id in self._deadlines


# Both scripts read Redis's clock, so processes on machines with skewed clocks agree.
_PING_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
"""

# Range and removal in one script: a member is popped by exactly one sweeper.
_SWEEP_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #expired > 0 then
    redis.call('ZREM', KEYS[1], unpack(expired))
end
return expired
"""


class RedisPresence(Presence):
    """Deadlines in a Redis sorted set shared by every process; each process sweeps it."""

    def __init__(self, url: str, key: str, timeout: float | None = None) -> None:
        import redis

        super().__init__(timeout)
        self.url = url
        self.key = key
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._ping_script = self._client.register_script(_PING_SCRIPT)
        self._sweep_script = self._client.register_script(_SWEEP_SCRIPT)
        self._async: tuple[asyncio.AbstractEventLoop, Any, Any] | None = None

    def _async_client(self) -> tuple[Any, Any]:
        """An asyncio client (and its ping script) bound to the running event loop."""
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = redis.asyncio.Redis.from_url(self.url, decode_responses=True)
            self._async = (loop, client, client.register_script(_PING_SCRIPT))
        return self._async[1], self._async[2]

    def ping(self, agent_id: str) -> None:
        self._ping_script(keys=[self.key], args=[agent_id, self.timeout])

    async def aping(self, agent_id: str) -> None:
        _, script = self._async_client()
        await script(keys=[self.key], args=[agent_id, self.timeout])

    def bye(self, agent_id: str) -> None:
        if self._client.zrem(self.key, agent_id):
            self._fire([agent_id])

    async def abye(self, agent_id: str) -> None:
        client, _ = self._async_client()
        if await client.zrem(self.key, agent_id):
            self._fire([agent_id])

    def sweep(self) -> list[str]:
        expired: list[str] = self._sweep_script(keys=[self.key], args=[SWEEP_BATCH])
        self._fire(expired)
        return expired

    def seconds_to_next_sweep(self) -> float:
        return SWEEP_INTERVAL

    def is_active(self, agent_id: str) -> bool:
        return self._client.zscore(self.key, agent_id) is not None

    def stop(self, **kwargs: object) -> None:
        super().stop()
        self._client.close()


def build_monitor() -> Presence:
    """Redis-backed when ``REDIS_URL`` is set (several processes), else in this process."""
    url = getattr(settings, "REDIS_URL", "")
    if url:
        return RedisPresence(url, key=f"{poa_settings.REDIS_PREFIX}:presence")
    return LocalPresence()


monitor: Presence = build_monitor()

