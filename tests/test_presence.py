"""The activity monitor itself: one inactive event per active period, in-process and shared in Redis."""

import asyncio
import threading
import time

import pytest

from poa_backend.core.presence import LocalPresence, Presence, RedisPresence
from poa_backend.core.signals import agent_inactive
from tests.fault_support import ThrowawayRedis
from tests.live import wait_until

TIMEOUT = 0.6


@pytest.fixture
def fired():
    """Every ``agent_inactive`` a monitor fires in this process: (agent_id, monotonic time)."""
    events: list[tuple[str, float]] = []
    lock = threading.Lock()

    def record(sender, agent_id, **kwargs):
        with lock:
            events.append((agent_id, time.monotonic()))

    agent_inactive.connect(record, sender=Presence, weak=False, dispatch_uid="test-presence")
    yield events
    agent_inactive.disconnect(dispatch_uid="test-presence", sender=Presence)


@pytest.fixture
def local():
    monitor = LocalPresence(timeout=TIMEOUT)
    monitor.start()
    yield monitor
    monitor.stop()


@pytest.fixture
def shared(redis_url, redis_prefix):
    """Two monitors on one Redis key, as two server processes would have."""
    monitors = [RedisPresence(redis_url, key=f"{redis_prefix}:presence", timeout=TIMEOUT) for _ in range(2)]
    for monitor in monitors:
        monitor.start()
    yield monitors
    for monitor in monitors:
        monitor.stop()
    monitors[0]._client.delete(monitors[0].key)


def agents(events):
    return [agent_id for agent_id, _ in events]


def test_quiet_agent_is_declared_inactive_once_after_the_timeout(local, fired):
    local.ping("a")
    pinged = time.monotonic()
    time.sleep(TIMEOUT * 0.5)
    assert fired == []
    time.sleep(TIMEOUT * 2)
    assert agents(fired) == ["a"]
    assert TIMEOUT <= fired[0][1] - pinged < TIMEOUT + 0.35
    assert not local.is_active("a")


def test_pings_keep_an_agent_active_and_each_agent_has_its_own_period(local, fired):
    for _ in range(8):
        local.ping("steady")
        time.sleep(TIMEOUT / 3)
    local.ping("quiet")
    assert fired == []
    time.sleep(TIMEOUT * 1.6)
    assert agents(fired) == ["steady", "quiet"]


def test_bye_fires_at_once_and_never_twice_and_a_later_ping_starts_a_new_period(local, fired):
    local.ping("a")
    local.bye("a")
    assert agents(fired) == ["a"]  # synchronously, in the caller
    local.bye("a")
    local.bye("never-pinged")
    time.sleep(TIMEOUT * 1.6)
    assert agents(fired) == ["a"]
    local.ping("a")
    time.sleep(TIMEOUT * 1.6)
    assert agents(fired) == ["a", "a"]


def test_async_variants_behave_the_same(local, fired):
    async def scenario():
        await local.aping("x")
        await local.aping("y")
        await local.abye("x")
        await local.abye("x")

    asyncio.run(scenario())
    assert agents(fired) == ["x"]
    time.sleep(TIMEOUT * 1.6)
    assert agents(fired) == ["x", "y"]


def test_without_a_sweeper_nothing_fires_until_a_sweep(fired):
    monitor = LocalPresence(timeout=0.05)
    monitor.ping("a")
    time.sleep(0.1)
    assert fired == []
    assert monitor.sweep() == ["a"]
    assert monitor.sweep() == []
    assert agents(fired) == ["a"]


def test_a_ping_may_give_its_own_timeout_and_a_long_one_holds_no_short_one_back(fired):
    monitor = LocalPresence(timeout=0.05)
    monitor.ping("long", timeout=60.0)
    monitor.ping("short")
    time.sleep(0.1)
    assert monitor.sweep() == ["short"]  # though its deadline came after a later one's ping
    assert monitor.is_active("long")
    assert 0.01 <= monitor.seconds_to_next_sweep()
    monitor.ping("long")  # the default again: its period now ends sooner
    time.sleep(0.1)
    assert monitor.sweep() == ["long"]
    assert agents(fired) == ["short", "long"]


def test_many_refreshes_keep_the_heap_bounded():
    monitor = LocalPresence(timeout=60.0)
    for n in range(10_000):
        monitor.ping(f"agent-{n % 10}")
    assert len(monitor._heap) <= 2 * 10 + 64 + 1


@pytest.mark.redis
def test_shared_pings_on_either_process_keep_the_agent_active_and_one_process_fires(shared, fired):
    first, second = shared
    for n in range(10):
        # Each monitor alone sees a ping only every 1.4 timeouts; together, every 0.7.
        (first if n % 2 else second).ping("a")
        time.sleep(TIMEOUT * 0.7)
    assert fired == []
    assert first.is_active("a")
    assert second.is_active("a")
    time.sleep(TIMEOUT * 2.5)
    assert agents(fired) == ["a"]


@pytest.mark.redis
def test_shared_bye_fires_once_and_the_sweepers_never_double_fire(shared, fired):
    first, second = shared
    names = [f"agent-{n}" for n in range(200)]
    for name in names:
        (first if hash(name) % 2 else second).ping(name)
    first.bye("agent-0")
    second.bye("agent-0")
    assert agents(fired) == ["agent-0"]
    time.sleep(TIMEOUT * 2.5)
    assert sorted(agents(fired)) == sorted(names)


@pytest.mark.redis
def test_shared_async_variants(shared, fired):
    first, second = shared

    async def scenario():
        await first.aping("x")
        await second.aping("y")
        await second.abye("x")
        await first.abye("x")

    asyncio.run(scenario())
    assert agents(fired) == ["x"]
    time.sleep(TIMEOUT * 2.5)
    assert agents(fired) == ["x", "y"]


@pytest.mark.redis
def test_shared_pings_may_give_their_own_timeout(shared, fired):
    first, second = shared
    first.ping("long", timeout=TIMEOUT * 10)
    asyncio.run(second.aping("async-long", timeout=TIMEOUT * 10))
    first.ping("short")
    time.sleep(TIMEOUT * 2.5)
    assert agents(fired) == ["short"]
    assert second.is_active("long")
    assert first.is_active("async-long")


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, which it stops and starts (the machine's is never touched)."""
    server = ThrowawayRedis(tmp_path / "redis").start()
    yield server
    server.stop()


def test_agents_pinging_through_a_redis_outage_stay_active_and_no_burst_follows(own_redis, fired):
    monitors = [RedisPresence(own_redis.url, key="poa-test:presence", timeout=TIMEOUT) for _ in range(2)]
    for monitor in monitors:
        monitor.start()
    try:
        for agent in ("a", "b", "quiet", "leaves"):
            monitors[0].ping(agent)
        own_redis.stop()
        outage_began = time.monotonic()
        monitors[1].ping("new")  # first heard of during the outage, on the other process
        # Pings and byes answer while Redis is away; each agent keeps pinging "its" process.
        while time.monotonic() - outage_began < 4 * TIMEOUT:
            monitors[0].ping("a")
            asyncio.run(monitors[1].aping("b"))
            monitors[1].ping("new")
            time.sleep(TIMEOUT / 4)
        monitors[0].bye("leaves")  # active only in Redis: fires once Redis is back
        monitors[1].ping("short")
        monitors[1].bye("short")  # active here: fires at once
        assert agents(fired) == ["short"]
        assert monitors[0].redis_away
        assert monitors[1].redis_away

        own_redis.start()
        back = time.monotonic()
        while time.monotonic() - back < 4 * TIMEOUT:
            monitors[0].ping("a")
            monitors[1].ping("b")
            monitors[0].ping("new")
            time.sleep(TIMEOUT / 4)
        assert not monitors[0].redis_away
        assert not monitors[1].redis_away
        # No agent that kept pinging is declared inactive; the quiet one once, a timeout after
        # the recovery (not at once, with a burst), and the bye of the outage once.
        assert sorted(agents(fired)) == ["leaves", "quiet", "short"]
        quiet_at = next(at for agent, at in fired if agent == "quiet")
        assert quiet_at - back >= TIMEOUT * 0.9

        # A second outage goes the same way.
        own_redis.stop()
        for _ in range(3):
            monitors[0].ping("a")
            monitors[1].bye("b")
            time.sleep(TIMEOUT / 4)
        own_redis.start()
        assert wait_until(lambda: not monitors[0].redis_away and not monitors[1].redis_away)
        monitors[0].ping("a")
        assert sorted(agents(fired)) == ["b", "leaves", "quiet", "short"]
    finally:
        for monitor in monitors:
            monitor.stop()
