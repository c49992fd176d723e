"""The catch-up stays bounded and readable: at most so many agents, none too old, nothing bad from before.

Each test runs embedded (memory and the data directory's file) and, where it matters,
with Redis (hashes under the test's own prefix).
"""

import asyncio
import json
import time

import pytest
import redis

from tests.dashboard_support import (
    dashboard,
    expected_frame,
    information,
    inject,
    nothing_more,
    receive,
    set_feed_options,
)

pytest_plugins = ["tests.dashboard_fixtures"]
pytestmark = pytest.mark.usefixtures("live_db")

STORES = ["embedded", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=STORES)
def store_env(request):
    """The server's environment: embedded, or with Redis."""
    return request.getfixturevalue("redis_env") if request.param == "redis" else {}


def information_frame(agent_id: str) -> str:
    return expected_frame(agent_id, information(agent_id)["data"])


async def sent_one_by_one(backend, watcher, agents: list[str]) -> None:
    """Information of each agent in its own call, each seen by ``watcher`` before the next."""
    for agent_id in agents:
        await asyncio.to_thread(inject, backend, information(agent_id))
        assert await receive(watcher, 1) == [information_frame(agent_id)]


async def a_late_dashboard_gets(backend, sent: list[str], kept: list[str]) -> None:
    """Information of ``sent``, one by one; a dashboard connecting after gets that of ``kept``."""
    async with dashboard(backend) as watcher:
        await sent_one_by_one(backend, watcher, sent)
    async with dashboard(backend) as late:
        assert await receive(late, len(kept)) == [information_frame(agent) for agent in kept]
        assert await nothing_more(late)


def test_the_catchup_keeps_the_agents_seen_most_recently(feed_rows, live_backend, store_env):
    set_feed_options(catchup_agents=3)
    backend = live_backend(env=store_env)
    agents = [f"node-{n}" for n in range(5)]

    asyncio.run(a_late_dashboard_gets(backend, agents, agents[2:]))
    if not store_env:  # what is saved for the next start is bounded too
        assert backend.stop() == 0
        saved = json.loads((backend.data_dir / "dashboard-dashboard.json").read_text())
        assert sorted(saved["agents"]) == agents[2:]


def test_the_catchup_holds_at_most_its_bytes_the_agents_seen_most_recently_first(
    feed_rows, live_backend, store_env
):
    agents = [f"node-{n}" for n in range(5)]
    frame_bytes = len(information_frame("node-0").encode())
    set_feed_options(catchup_bytes=frame_bytes * 5 // 2)  # room for two frames and a half
    backend = live_backend(env=store_env)

    asyncio.run(a_late_dashboard_gets(backend, agents, agents[3:]))


def test_agents_inactive_longer_than_the_maximum_age_leave_the_catchup(feed_rows, live_backend, store_env):
    set_feed_options(catchup_max_age=1)
    backend = live_backend(env=store_env)

    async def scenario():
        async with dashboard(backend) as watcher:
            await sent_one_by_one(backend, watcher, ["node-old"])
            await asyncio.sleep(1.5)  # the configured age passes
            await sent_one_by_one(backend, watcher, ["node-new"])
        async with dashboard(backend) as late:
            assert await receive(late, 1) == [information_frame("node-new")]
            assert await nothing_more(late)

    asyncio.run(scenario())
    if store_env:  # gone from Redis too, and the keys expire if the backend goes away for good
        client = redis.Redis.from_url(store_env["REDIS_URL"], decode_responses=True)
        base = f"{store_env['POA_REDIS_PREFIX']}:dashboard:dashboard"
        assert client.hkeys(f"{base}:latest:information") == ["node-new"]
        assert client.zrange(f"{base}:seen", 0, -1) == ["node-new"]
        for key in (f"{base}:latest:information", f"{base}:seen"):
            assert 0 < client.ttl(key) <= 61


def test_an_agent_that_only_pinged_leaves_no_frame_and_no_catchup_entry(feed_rows, live_backend, store_env):
    backend = live_backend(env=store_env)

    async def scenario():
        async with dashboard(backend) as watcher:
            await asyncio.to_thread(inject, backend, {"inactive": "only-pinged"}, information("node-a"))
            assert await receive(watcher, 1) == [information_frame("node-a")]  # no inactive frame first
            assert await nothing_more(watcher)
        async with dashboard(backend) as late:
            assert await receive(late, 1) == [information_frame("node-a")]
            assert await nothing_more(late)

    asyncio.run(scenario())


def test_bad_entries_of_a_saved_catchup_file_are_skipped(feed_rows, other_process):
    lone_surrogate = '{"agent_id":"node-b","data":{"type":"information","body":{"name":"\ud800"}}}'
    older_version_file = {  # the shape older versions saved: kind -> agent id -> frame
        "information": {"node-a": information_frame("node-a"), "node-b": lone_surrogate, "node-c": 7},
        "statistics": {"node-d": "not a frame"},
    }

    def write_file(backend):
        (backend.data_dir / "dashboard-dashboard.json").write_text(json.dumps(older_version_file))

    backend = other_process({}, before_start=write_file)

    async def scenario():
        async with dashboard(backend) as socket:
            assert await receive(socket, 1) == [information_frame("node-a")]
            assert await nothing_more(socket)
            await asyncio.to_thread(inject, backend, information("node-e"))  # and the live feed works
            assert await receive(socket, 1) == [information_frame("node-e")]

    asyncio.run(scenario())


@pytest.mark.redis
def test_bad_entries_of_the_catchup_in_redis_are_skipped(feed_rows, live_backend, redis_env):
    client = redis.Redis.from_url(redis_env["REDIS_URL"])
    base = f"{redis_env['POA_REDIS_PREFIX']}:dashboard:dashboard"
    client.hset(  # as an older version could leave them: no dates, one frame not even UTF-8
        f"{base}:latest:information",
        mapping={
            "node-a": information_frame("node-a"),
            "node-b": b'{"agent_id":"node-b","data":{"type":"information","body":{"name":"\xed\xa0\x80"}}}',
            "node-c": "{not json",
        },
    )
    backend = live_backend(env=redis_env)

    async def scenario():
        async with dashboard(backend) as socket:
            assert await receive(socket, 1) == [information_frame("node-a")]
            assert await nothing_more(socket)

    asyncio.run(scenario())
    assert abs(client.zscore(f"{base}:seen", "node-a") - time.time()) < 60  # dated now: it will age out
