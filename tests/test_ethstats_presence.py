"""ethstats presence over the real server: a disconnect (clean or a dropped TCP connection)
makes a node inactive once, within 3 s; a connected but silent node goes inactive once after
the handler's own timeout, and is kept active until then, whatever presence's own timeout."""

import asyncio
import time

import pytest

from simulator.ethstats import GoEthereum
from tests.ethstats_support import READY, SHARED_SECRET, login, open_node, use_rows
from tests.live import read_events

pytestmark = pytest.mark.usefixtures("live_db")


def inactive_events(path, node_id: str) -> list[float]:
    return [
        event["at"]
        for event in read_events(path)
        if event["event"] == "inactive" and event["value"] == node_id
    ]


async def wait_for_inactive(path, node_id: str, timeout: float) -> float:
    """Seconds until the node's first inactive event (fails after ``timeout``)."""
    started = time.monotonic()
    while not inactive_events(path, node_id):
        assert time.monotonic() - started < timeout, f"{node_id} not inactive within {timeout} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def test_a_clean_close_and_a_dropped_connection_each_make_the_node_inactive_once_within_3_s(
    live_backend, recording_path
):
    use_rows(secrets=[SHARED_SECRET])
    backend = live_backend()

    async def scenario():
        closing = await open_node(backend)
        assert await login(closing, GoEthereum("closes", SHARED_SECRET).hello()) == READY
        dropping = await open_node(backend)
        assert await login(dropping, GoEthereum("drops", SHARED_SECRET).hello()) == READY
        await closing.close()
        dropping.transport.abort()  # no close frame: the TCP connection just goes
        assert await wait_for_inactive(recording_path, "closes", 3.0) < 3.0
        assert await wait_for_inactive(recording_path, "drops", 3.0) < 3.0
        await asyncio.sleep(1.0)  # presence's own timeout passes: nothing more
        assert len(inactive_events(recording_path, "closes")) == 1
        assert len(inactive_events(recording_path, "drops")) == 1

    asyncio.run(scenario())


def test_a_silent_node_is_kept_active_until_the_handler_timeout_then_inactive_once(
    live_backend, recording_path
):
    use_rows(secrets=[SHARED_SECRET], inactivity_timeout=4)
    # Presence's own timeout far below the handler's: the handler must keep the node active.
    backend = live_backend(env={"POA_INACTIVITY_TIMEOUT": "1"})
    node = GoEthereum("silent", SHARED_SECRET)

    async def scenario():
        async with open_node(backend) as socket:
            assert await login(socket, node.hello()) == READY
            logged_in = time.monotonic()
            waited = await wait_for_inactive(recording_path, "silent", 8.0)
            assert 3.0 < waited < 6.0, waited  # about 4 s, never presence's 1 s
            await asyncio.sleep(1.5)
            assert len(inactive_events(recording_path, "silent")) == 1
            # It speaks again: a new active period, which its disconnect ends.
            await socket.send(node.node_ping())
            await socket.recv()
            assert time.monotonic() - logged_in > 4.0
        deadline = time.monotonic() + 3.0
        while len(inactive_events(recording_path, "silent")) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        assert len(inactive_events(recording_path, "silent")) == 2

    asyncio.run(scenario())


def test_a_node_reconnecting_before_its_old_socket_closes_stays_active(live_backend, recording_path):
    use_rows(secrets=[SHARED_SECRET])
    backend = live_backend()
    node = GoEthereum("redialer", SHARED_SECRET)

    async def scenario():
        old = await open_node(backend)
        assert await login(old, node.hello()) == READY
        async with open_node(backend) as new:
            assert await login(new, node.hello()) == READY
            await old.close()  # the old session goes; the node is still connected
            await asyncio.sleep(1.5)
            assert inactive_events(recording_path, "redialer") == []
        assert await wait_for_inactive(recording_path, "redialer", 3.0) < 3.0

    asyncio.run(scenario())
