"""The dashboard feed end to end: a real server, real WebSocket clients sending ``wssecret``.

Messages reach the server's receivers through ``tests.plugins.InjectHandler``
(``POST /test/inject``), served on the dashboard's listener (tests/dashboard_support.py).
"""

import asyncio
import json
import subprocess
import sys

import pytest

from tests.dashboard_support import (
    INACTIVE_FRAME,
    SECRET,
    dashboard,
    expected_frame,
    inject,
    message,
    nothing_more,
    receive,
    refused_status,
    sample,
    status_of,
    wait_for_log,
)

pytest_plugins = ["tests.dashboard_fixtures"]  # its fixtures: feed_rows, other_process, redis_env, ...
pytestmark = pytest.mark.usefixtures("live_db")


def test_wrong_and_missing_secret_are_refused_with_400(feed_rows, live_backend):
    backend = live_backend()

    async def scenario():
        assert await refused_status(backend, None) == 400
        assert await refused_status(backend, "not-the-secret") == 400
        assert await refused_status(backend, SECRET + "x") == 400
        async with dashboard(backend) as socket:
            assert await nothing_more(socket)  # open, and nothing seen yet: an empty catch-up

    asyncio.run(scenario())


def test_the_environment_secret_overrides_the_row(feed_rows, live_backend):
    backend = live_backend(env={"POA_DASHBOARD_SECRET": "from-the-environment"})

    async def scenario():
        assert await refused_status(backend, SECRET) == 400
        async with dashboard(backend, "from-the-environment") as socket:
            assert await nothing_more(socket)

    asyncio.run(scenario())


def test_plain_http_on_the_dashboard_listener_is_404(feed_rows, live_backend):
    backend = live_backend()
    for path in ("/ws", "/ws/", "/ws/more", "/no-such-path"):
        assert status_of(backend.url("dashboard") + path) == 404, path


def test_live_frames_are_the_agent_data_unchanged_and_client_frames_are_ignored(feed_rows, live_backend):
    backend = live_backend()
    sent = [
        message("node-b", sample("information")),
        message("node-a", sample("block")),
        message("node-a", sample("latency"), "networking_metrics"),
        message("node-b", sample("history")),
        message("node-a", sample("pending")),
        message("node-b", sample("statistics_syncing")),
        message(
            "node-a", {"type": "custom", "body": {"z": 1, "a": [1, "two", None], "ü": {"y": 2.5, "b": True}}}
        ),
    ]

    async def scenario():
        async with dashboard(backend) as socket:
            await socket.send("hello")  # means nothing: ignored, the socket stays open
            await socket.send(b"\x00\x01binary")
            await socket.send(json.dumps({"agent_id": "node-z", "data": sample("statistics")}))
            await asyncio.to_thread(inject, backend, *sent)
            frames = await receive(socket, len(sent))
            assert await nothing_more(socket)
        assert frames == [expected_frame(m["agent_id"], m["data"]) for m in sent]
        # Key names and order as the agent sent them, nested data untouched, compact JSON.
        assert frames[2] == '{"agent_id":"node-a","data":{"type":"latency","body":{"latency":42}}}'
        assert frames[-1] == (
            '{"agent_id":"node-a","data":{"type":"custom","body":{"z":1,"a":[1,"two",null],'
            '"ü":{"y":2.5,"b":true}}}}'
        )
        assert list(json.loads(frames[0])["data"]["body"]) == list(sample("information")["body"])

    asyncio.run(scenario())


def test_catchup_gives_each_agent_its_latest_information_then_statistics(feed_rows, live_backend):
    backend = live_backend()
    older_statistics = sample("statistics")
    newer_statistics = sample("statistics_syncing")
    other_information = {"type": "information", "body": {**sample("information")["body"], "name": "node-a"}}
    sent = [
        message("node-b", older_statistics),  # node-b: statistics before information
        message("node-b", sample("information")),
        message("node-a", sample("block")),
        message("node-a", other_information),
        message("node-a", older_statistics),
        message("node-a", sample("latency"), "networking_metrics"),
        message("node-b", newer_statistics),
        message("node-c", sample("latency"), "networking_metrics"),  # neither kind: no catch-up
        message("node-d", sample("pending")),
    ]

    async def scenario():
        async with dashboard(backend) as watcher:
            await asyncio.to_thread(inject, backend, *sent)
            await receive(watcher, len(sent))  # every message went through: the catch-up is up to date
            async with dashboard(backend) as late:
                catchup = await receive(late, 4)
                assert await nothing_more(late)
                await asyncio.to_thread(inject, backend, message("node-c", sample("pending")))
                assert await receive(late, 1) == [expected_frame("node-c", sample("pending"))]
        assert catchup == [
            expected_frame("node-a", other_information),
            expected_frame("node-a", older_statistics),
            expected_frame("node-b", sample("information")),
            expected_frame("node-b", newer_statistics),
        ]

    asyncio.run(scenario())


def test_inactive_agent_frame_and_its_catchup(feed_rows, live_backend):
    backend = live_backend()

    async def scenario():
        async with dashboard(backend) as socket:
            await asyncio.to_thread(
                inject, backend, message("node-a", sample("information")), {"inactive": "node-a"}
            )
            frames = await receive(socket, 2)
        assert frames[1] == INACTIVE_FRAME % "node-a"
        async with dashboard(backend) as late:
            catchup = await receive(late, 2)
        assert catchup == [expected_frame("node-a", sample("information")), INACTIVE_FRAME % "node-a"]

    asyncio.run(scenario())


def test_200_dashboards_each_get_all_100_messages(feed_rows, live_backend):
    backend = live_backend()
    sent = [message(f"node-{n % 7}", {"type": "pending", "body": {"pending": n}}) for n in range(100)]

    async def scenario():
        sockets = []
        try:
            for _ in range(200):
                sockets.append(await dashboard(backend))
            for item in sent:  # one call per message, as agents make them
                await asyncio.to_thread(inject, backend, item)
            received = await asyncio.gather(*(receive(socket, len(sent)) for socket in sockets))
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))
        expected = [expected_frame(m["agent_id"], m["data"]) for m in sent]
        assert all(frames == expected for frames in received)

    asyncio.run(scenario())


def test_catchup_survives_a_restart_of_the_embedded_backend(feed_rows, live_backend):
    backend = live_backend()

    async def fill():
        async with dashboard(backend) as socket:
            await asyncio.to_thread(
                inject,
                backend,
                message("node-a", sample("information")),
                message("node-a", sample("statistics")),
            )
            await receive(socket, 2)

    asyncio.run(fill())
    assert backend.stop() == 0
    backend.start()  # same data directory, same ports

    async def reconnect():
        async with dashboard(backend) as socket:
            return await receive(socket, 2)

    assert asyncio.run(reconnect()) == [
        expected_frame("node-a", sample("information")),
        expected_frame("node-a", sample("statistics")),
    ]


@pytest.fixture(params=["quiet", "busy"])
def cpu(request):
    """The machine as it is, or with two busy-looping processes (one per core) for the test's length."""
    if request.param == "quiet":
        yield request.param
        return
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield request.param
    for burner in burners:
        burner.kill()
        burner.wait()


@pytest.mark.redis
def test_dashboards_on_another_process_get_every_frame_and_the_catchup(
    feed_rows, live_backend, other_process, redis_env, cpu
):
    # Under load a dashboard used to see its socket open before its catch-up was read, so the
    # first frames sent after the handshake came twice (catch-up, then live).
    process_a = live_backend(env=redis_env)
    process_b = other_process(redis_env)
    assert process_a.ports["dashboard"] != process_b.ports["dashboard"]
    # B's ports are in the shared rows now: A rebuilds its receiver (it keeps listening where it was).
    wait_for_log(process_a, "receiver dashboard: stopping")
    sent = [
        message("node-a", sample("information")),
        message("node-a", sample("statistics")),
        message("node-a", sample("block")),
        message("node-a", sample("latency"), "networking_metrics"),
        {"inactive": "node-a"},
    ]
    expected = [expected_frame(m["agent_id"], m["data"]) for m in sent[:-1]] + [INACTIVE_FRAME % "node-a"]

    async def scenario():
        async with dashboard(process_b) as on_b, dashboard(process_a) as on_a:
            for item in sent:
                await asyncio.to_thread(inject, process_a, item)
            assert await receive(on_b, len(sent)) == expected
            assert await receive(on_a, len(sent)) == expected  # once each: its own publications skipped
            assert await nothing_more(on_a)
            assert await nothing_more(on_b)
        async with dashboard(process_b) as later_on_b:
            assert await receive(later_on_b, 2) == [expected[0], INACTIVE_FRAME % "node-a"]

    asyncio.run(scenario())


@pytest.mark.redis
def test_catchup_survives_a_restart_with_redis(feed_rows, live_backend, redis_env):
    first = live_backend(env=redis_env)

    async def fill():
        async with dashboard(first) as socket:
            await asyncio.to_thread(
                inject,
                first,
                message("node-a", sample("information")),
                message("node-b", sample("statistics")),
            )
            await receive(socket, 2)

    asyncio.run(fill())
    assert first.stop() == 0
    restarted = live_backend(env=redis_env)  # a fresh data directory: only Redis remembers

    async def reconnect():
        async with dashboard(restarted) as socket:
            frames = await receive(socket, 2)
            assert await nothing_more(socket)
            return frames

    assert asyncio.run(reconnect()) == [
        expected_frame("node-a", sample("information")),
        expected_frame("node-b", sample("statistics")),
    ]
