"""The dashboard feed with Redis: what it holds there, and how it lives through a Redis outage.

Each test runs its own redis-server on a free port (the machine's Redis is never
stopped), so what is counted there is this backend's alone.
"""

import asyncio

import pytest
from websockets.asyncio.client import connect

from receivers.dashboard.hub import FEED_LOST_CODE
from tests.dashboard_support import (
    WAIT,
    close_code,
    dashboard,
    expected_frame,
    information,
    inject,
    logs_on_failure,
    message,
    nothing_more,
    receive,
    sample,
    set_feed_options,
    wait_for_log,
)

pytest_plugins = ["tests.dashboard_fixtures"]
pytestmark = pytest.mark.usefixtures("live_db")


def test_dashboard_sockets_hold_no_redis_subscription_of_their_own(
    feed_rows, live_backend, throwaway_redis, redis_prefix
):
    set_feed_options(public_dashboard=True)  # the web page's feed opens without a login
    backend = live_backend(env={"REDIS_URL": throwaway_redis.url, "POA_REDIS_PREFIX": redis_prefix})
    frames_channel = f"{redis_prefix}:dashboard:dashboard:frames"
    page_feed = backend.url("dashboard", scheme="ws") + "/dashboard/feed"

    async def scenario():
        sockets = []
        try:
            for _ in range(20):
                sockets.append(await dashboard(backend))
                sockets.append(await connect(page_feed, open_timeout=WAIT))
            await asyncio.to_thread(inject, backend, message("node-a", sample("pending")))
            for socket in sockets:  # every socket is fed
                assert await receive(socket, 1) == [expected_frame("node-a", sample("pending"))]
            client = throwaway_redis.client()
            return [channel.decode() for channel in client.pubsub_channels()], client.pubsub_numsub(
                frames_channel
            )
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))

    channels, numsub = asyncio.run(scenario())
    # One subscription for the feed of the process, none per socket (Channels names its own "asgi...").
    assert frames_channel in channels
    assert [channel for channel in channels if not channel.startswith(f"{redis_prefix}:")] == []
    assert numsub == [(frames_channel.encode(), 1)]


def test_the_live_feed_through_a_redis_outage(
    feed_rows, live_backend, other_process, throwaway_redis, redis_prefix
):
    env = {"REDIS_URL": throwaway_redis.url, "POA_REDIS_PREFIX": redis_prefix}
    process_a = live_backend(env=env)
    process_b = other_process(env)
    wait_for_log(process_a, "receiver dashboard: stopping")  # A rebuilt its receiver for B's ports
    statistics = message("node-a", sample("statistics"))

    async def scenario():
        async with dashboard(process_a) as on_a, dashboard(process_b) as on_b:
            await asyncio.to_thread(inject, process_a, information("node-a"))
            for socket in (on_a, on_b):
                assert await receive(socket, 1) == [expected_frame("node-a", information("node-a")["data"])]

            throwaway_redis.stop()
            # The accepting process's own dashboards still get its frames; the agents' calls still succeed.
            await asyncio.to_thread(inject, process_a, statistics)
            assert await receive(on_a, 1) == [expected_frame("node-a", statistics["data"])]
            await asyncio.to_thread(inject, process_b, information("node-b"))
            assert await receive(on_b, 1) == [expected_frame("node-b", information("node-b")["data"])]

            throwaway_redis.start()
            # Frames of the other process were missed meanwhile: both dashboards are told to reconnect.
            assert await close_code(on_a) == FEED_LOST_CODE
            assert await close_code(on_b) == FEED_LOST_CODE
            for backend in (process_a, process_b):  # (a dashboard may close before its own process is back)
                await asyncio.to_thread(wait_for_log, backend, "Redis subscription back")

        async with dashboard(process_a) as again_a, dashboard(process_b) as again_b:
            catchup = [
                expected_frame("node-a", information("node-a")["data"]),
                expected_frame("node-a", statistics["data"]),
                expected_frame("node-b", information("node-b")["data"]),
            ]
            assert await receive(again_a, 3) == catchup  # both processes' outage frames, re-shared
            assert await receive(again_b, 3) == catchup
            # Subscribed again: each process's frames reach the other's dashboards.
            await asyncio.to_thread(inject, process_b, message("node-b", sample("block")))
            await asyncio.to_thread(inject, process_a, message("node-a", sample("pending")))
            for socket in (again_a, again_b):
                assert sorted(await receive(socket, 2)) == sorted(
                    [expected_frame("node-b", sample("block")), expected_frame("node-a", sample("pending"))]
                )
                assert await nothing_more(socket)

    with logs_on_failure(process_a, process_b):
        asyncio.run(scenario())
    assert "could not share frames with other processes" in process_a.log
