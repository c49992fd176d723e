"""Agent presence: who is active, and one ``agent_inactive`` signal when an agent goes quiet.

A ping starts or refreshes an agent's active period; when ``INACTIVITY_TIMEOUT``
seconds (or the timeout that ping gave) pass without one, or the agent says bye, the period ends and
``poa_backend.core.signals.agent_inactive`` fires exactly once for it. A later ping
starts a new period. A bye from an agent with no active period (never pinged, or
already declared inactive) fires nothing: the agent is inactive already.

Embedded, the deadlines live in this process. With ``REDIS_URL`` they live in one
Redis sorted set (agent -> deadline, on Redis's clock) shared by every process:
a ping on any process refreshes the agent, and each process's sweeper pops
expired agents atomically, so exactly one process fires per expiry.

While Redis cannot be reached, pings never fail: each process keeps the deadlines
of the agents pinging it, and a bye still fires for an agent active here. No
expiry is decided meanwhile (an agent may be pinging another process), so no
agent that keeps pinging is ever declared inactive. When Redis answers again each
process writes its deadlines back (never shortening one), every deadline that
passed during the outage is moved one timeout past the recovery, and sweeping
resumes: an agent that really went quiet is declared inactive once, one timeout
after the recovery, and there is no burst of inactive events.

Handlers use it through their plug-in base (``HandlerPlugin.ping`` / ``publish_inactive``),
or the module's ``monitor``: ``ping``/``bye`` from sync code,
``aping``/``abye`` from async code (they never block the event loop).
"""

import asyncio
import heapq
import logging
import threading
import time
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
#: Seconds to connect to Redis, and to wait for an answer, before presence falls back to this process.
REDIS_CONNECT_TIMEOUT = 1.0
REDIS_TIMEOUT = 2.0
#: Connections of a process's event loop to Redis for presence (one command each at a time).
ASYNC_CONNECTIONS = 32


class Presence:
    """The presence contract; the two stores below differ only in where deadlines live."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = float(poa_settings.INACTIVITY_TIMEOUT if timeout is None else timeout)
        self._sweeper = Loop("presence-sweeper", self.sweep, self.seconds_to_next_sweep)

    def ping(self, agent_id: str, timeout: float | None = None) -> None:
        """Start or refresh the agent's active period, to end ``timeout`` seconds from now
        (``INACTIVITY_TIMEOUT`` by default) unless pinged again."""
        raise NotImplementedError

    async def aping(self, agent_id: str, timeout: float | None = None) -> None:
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

    def _timeout(self, timeout: float | None) -> float:
        """The seconds a ping's period lasts: its own ``timeout``, else this monitor's."""
        return self.timeout if timeout is None else timeout

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
    """Deadlines in this process: a map of each agent's, and a heap of them, earliest first (a
    heap entry whose deadline is no longer its agent's is dropped when it comes up)."""

    def __init__(self, timeout: float | None = None) -> None:
        super().__init__(timeout)
        self._deadlines: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def ping(self, agent_id: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + self._timeout(timeout)
        with self._lock:
            self._deadlines[agent_id] = deadline
            heapq.heappush(self._heap, (deadline, agent_id))
            if len(self._heap) > 2 * len(self._deadlines) + 64:  # many refreshed: drop the stale
                self._heap = [(d, a) for a, d in self._deadlines.items()]
                heapq.heapify(self._heap)

    async def aping(self, agent_id: str, timeout: float | None = None) -> None:
        self.ping(agent_id, timeout)  # a heap push under a lock held for microseconds

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
            while (first := self._earliest()) is not None and first <= now:
                _, agent_id = heapq.heappop(self._heap)
                del self._deadlines[agent_id]
                expired.append(agent_id)
        self._fire(expired)
        return expired

    def _earliest(self) -> float | None:
        """The earliest live deadline (called under the lock; drops stale entries on the way)."""
        while self._heap and self._deadlines.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def seconds_to_next_sweep(self) -> float:
        with self._lock:
            first = self._earliest()
        if first is None:
            return SWEEP_INTERVAL
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

# After an outage: write back this process's deadlines (seconds left, never shortening one),
# and move every deadline that passed meanwhile one timeout past now.
_RECONCILE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local timeout = tonumber(ARGV[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, agent in ipairs(stale) do
    redis.call('ZADD', KEYS[1], now + timeout, agent)
end
for i = 2, #ARGV, 2 do
    redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[i + 1]), ARGV[i])
end
return #stale
"""


class RedisPresence(Presence):
    """Deadlines in a Redis sorted set shared by every process; each process sweeps it.

    While Redis is away, deadlines fall back to ``self.local`` (this process), see above.
    """

    def __init__(self, url: str, key: str, timeout: float | None = None) -> None:
        import redis

        super().__init__(timeout)
        self.url = url
        self.key = key
        self._client = redis.Redis.from_url(url, decode_responses=True, **self._timeouts())
        self._ping_script = self._client.register_script(_PING_SCRIPT)
        self._sweep_script = self._client.register_script(_SWEEP_SCRIPT)
        self._reconcile_script = self._client.register_script(_RECONCILE_SCRIPT)
        self._async: tuple[asyncio.AbstractEventLoop, Any, Any] | None = None
        #: Deadlines of the agents pinging this process while Redis is away.
        self.local = LocalPresence(self.timeout)
        #: Agents that said bye here while Redis was away -> whether that fired here (it did when
        #: the agent had pinged here meanwhile); Redis forgets them when it is back.
        self._gone: dict[str, bool] = {}
        self._away_since: float | None = None
        self._state_lock = threading.Lock()

    @staticmethod
    def _timeouts() -> dict[str, float]:
        return {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}

    @property
    def redis_away(self) -> bool:
        """Whether presence runs on this process's deadlines (Redis unreachable) right now."""
        return self._away_since is not None

    def _async_client(self) -> tuple[Any, Any]:
        """An asyncio client (and its ping script) bound to the running event loop."""
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            # A bounded pool: a thousand agents pinging at once wait a moment for one of a few
            # connections rather than each opening its own (Redis on the same cores pays too).
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=ASYNC_CONNECTIONS,
                timeout=REDIS_TIMEOUT,
                decode_responses=True,
                **self._timeouts(),
            )
            client = redis.asyncio.Redis(connection_pool=pool)
            self._async = (loop, client, client.register_script(_PING_SCRIPT))
        return self._async[1], self._async[2]

    def ping(self, agent_id: str, timeout: float | None = None) -> None:
        from redis import RedisError

        if not self.redis_away:
            try:
                self._ping_script(keys=[self.key], args=[agent_id, self._timeout(timeout)])
                return
            except RedisError as exc:
                self._lost(exc)
        self._ping_locally(agent_id, timeout)

    async def aping(self, agent_id: str, timeout: float | None = None) -> None:
        from redis import RedisError

        if not self.redis_away:
            try:
                _, script = self._async_client()
                await script(keys=[self.key], args=[agent_id, self._timeout(timeout)])
                return
            except RedisError as exc:
                self._lost(exc)
        self._ping_locally(agent_id, timeout)

    def bye(self, agent_id: str) -> None:
        from redis import RedisError

        if not self.redis_away:
            try:
                if self._client.zrem(self.key, agent_id):
                    self._fire([agent_id])
                return
            except RedisError as exc:
                self._lost(exc)
        self._bye_locally(agent_id)

    async def abye(self, agent_id: str) -> None:
        from redis import RedisError

        if not self.redis_away:
            try:
                client, _ = self._async_client()
                if await client.zrem(self.key, agent_id):
                    self._fire([agent_id])
                return
            except RedisError as exc:
                self._lost(exc)
        self._bye_locally(agent_id)

    def sweep(self) -> list[str]:
        from redis import RedisError

        try:
            if self.redis_away:
                self._reconcile()
            expired: list[str] = self._sweep_script(keys=[self.key], args=[SWEEP_BATCH])
        except RedisError as exc:
            self._lost(exc)
            return []  # no expiry is decided while Redis is away
        self._fire(expired)
        return expired

    def seconds_to_next_sweep(self) -> float:
        return SWEEP_INTERVAL

    def is_active(self, agent_id: str) -> bool:
        if self.redis_away:
            return self.local.is_active(agent_id)
        return self._client.zscore(self.key, agent_id) is not None

    def stop(self, **kwargs: object) -> None:
        super().stop()
        self._client.close()

    # Redis away, and back.

    def _lost(self, exc: Exception) -> None:
        with self._state_lock:
            if self._away_since is None:
                self._away_since = time.monotonic()
                logger.warning("presence: Redis unreachable (%s); keeping deadlines in this process", exc)

    def _ping_locally(self, agent_id: str, timeout: float | None = None) -> None:
        with self._state_lock:
            self._gone.pop(agent_id, None)
            self.local.ping(agent_id, timeout)

    def _bye_locally(self, agent_id: str) -> None:
        with self._state_lock:
            fired_here = self.local.is_active(agent_id)
            self._gone[agent_id] = fired_here or self._gone.get(agent_id, False)
        self.local.bye(agent_id)  # fires if the agent was active here

    def _reconcile(self) -> None:
        """Redis answers again: write this process's deadlines back, then leave the fallback."""
        with self._state_lock:
            now = time.monotonic()
            with self.local._lock:
                deadlines = list(self.local._deadlines.items())
            args: list[object] = [self.timeout]
            for agent_id, deadline in deadlines:
                args += [agent_id, max(0.0, deadline - now)]
            stale = self._reconcile_script(keys=[self.key], args=args)
            unfired = []
            for agent_id, fired_here in self._gone.items():
                # Active only in Redis (pinged before the outage): its bye fires now, once.
                if self._client.zrem(self.key, agent_id) and not fired_here:
                    unfired.append(agent_id)
            away_for = now - (self._away_since or now)
            self.local = LocalPresence(self.timeout)
            self._gone = {}
            self._away_since = None
        self._fire(unfired)
        logger.warning(
            "presence: Redis reachable again after %.1fs; %d deadlines written back, %d passed meanwhile "
            "moved one timeout on",
            away_for,
            len(deadlines),
            stale,
        )


def build_monitor() -> Presence:
    """Redis-backed when ``REDIS_URL`` is set (several processes), else in this process."""
    url = getattr(settings, "REDIS_URL", "")
    if url:
        return RedisPresence(url, key=f"{poa_settings.REDIS_PREFIX}:presence")
    return LocalPresence()


monitor: Presence = build_monitor()

