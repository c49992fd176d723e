"""The dashboard hub in-process: hand-over from a worker thread, per-subscriber bounds, counters."""

import asyncio
import json
import threading

import pytest
from django.core.exceptions import ValidationError

from poa_backend.core.message import Message
from receivers.dashboard import DashboardReceiver, backplane
from receivers.dashboard.backplane import Bounds, LocalBackplane
from receivers.dashboard.hub import GOING_AWAY_CODE, OVERFLOW_CODE, FeedClosed, FeedStats, Hub, Outbox

BOUNDS = Bounds(agents=100, max_age=3600.0)
NO_BYTE_LIMIT = 1 << 40


def make_hub(tmp_path, name="hub-test"):
    return Hub(FeedStats(), LocalBackplane(name, tmp_path / f"{name}.json", BOUNDS))


def catchup(backplane_) -> list[str]:
    return asyncio.run(backplane_.acatchup())[0]


def test_a_subscriber_that_falls_behind_is_cut_off_alone(tmp_path):
    hub = make_hub(tmp_path)

    async def scenario():
        keeping_up, falling_behind = Outbox(10, NO_BYTE_LIMIT), Outbox(10, NO_BYTE_LIMIT)
        await hub.subscribe(keeping_up)
        await hub.subscribe(falling_behind)
        received = []
        for n in range(5):
            hub.fan_out([f"a{n}", f"b{n}", f"c{n}"])
            received += await keeping_up.get()  # this one drains; the other never does
        assert received == [f"{x}{n}" for n in range(5) for x in "abc"]
        assert hub.outboxes == {keeping_up}
        try:
            await falling_behind.get()
        except FeedClosed as closed:
            return closed.code
        return None

    assert asyncio.run(scenario()) == OVERFLOW_CODE
    assert hub.stats.outboxes_overflowed == 1
    assert hub.stats.frames_dropped == 12  # 9 queued and the batch of 3 that did not fit


def test_worker_thread_batches_reach_subscribers_on_the_loop_in_order(tmp_path):
    hub = make_hub(tmp_path)

    async def scenario():
        outbox = Outbox(10_000, NO_BYTE_LIMIT)
        await hub.subscribe(outbox)
        worker = threading.Thread(
            target=lambda: [hub.publish([f"{n}-1", f"{n}-2"], {}) for n in range(500)], name="worker"
        )
        worker.start()
        received = []
        while len(received) < 1000:
            received += await asyncio.wait_for(outbox.get(), 5)
        worker.join()
        hub.shutdown()
        try:
            await asyncio.wait_for(outbox.get(), 5)
        except FeedClosed as closed:
            return received, closed.code
        return received, None

    received, code = asyncio.run(scenario())
    assert received == [f"{n}-{part}" for n in range(500) for part in (1, 2)]
    assert code == GOING_AWAY_CODE


def test_local_catchup_is_kept_in_the_data_dir_file(tmp_path):
    hub = make_hub(tmp_path, "kept")
    i_a, i_b, s_a = (
        frame(agent, kind)
        for agent, kind in [("a", "information"), ("b", "information"), ("a", "statistics")]
    )
    hub.publish([i_b, s_a], {"information": {"b": i_b}, "statistics": {"a": s_a}})
    hub.publish([i_a], {"information": {"a": i_a}})
    assert catchup(hub.backplane) == [i_a, s_a, i_b]
    hub.shutdown()
    assert (tmp_path / "kept.json").exists()
    backplane._remembered.pop("kept")  # as if the process restarted
    assert catchup(LocalBackplane("kept", tmp_path / "kept.json", BOUNDS)) == [i_a, s_a, i_b]


def frame(agent_id: str, kind: str) -> str:
    return json.dumps({"agent_id": agent_id, "data": {"type": kind, "body": {}}}, separators=(",", ":"))


def test_data_json_cannot_carry_is_skipped_and_counted(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    receiver = DashboardReceiver("unencodable", {"secret": "s"})

    async def scenario():
        outbox = Outbox(100, NO_BYTE_LIMIT)
        await receiver.hub.subscribe(outbox)
        receiver.handle_messages(
            [
                Message("a", "ethereum_metrics", {"type": "pending", "body": {"pending": 1}}),
                Message("a", "ethereum_metrics", {"type": "block", "body": {"raw": b"\x00"}}),
                Message("a", "ethereum_metrics", {"type": "pending", "body": {"pending": float("nan")}}),
                Message("a", "ethereum_metrics", {"type": "pending", "body": {"pending": 2}}),
            ]
        )
        return await asyncio.wait_for(outbox.get(), 5)

    assert asyncio.run(scenario()) == [
        '{"agent_id":"a","data":{"type":"pending","body":{"pending":1}}}',
        '{"agent_id":"a","data":{"type":"pending","body":{"pending":2}}}',
    ]
    assert receiver.stats.messages_unencodable == 2


def test_options_are_checked():
    cleaned = DashboardReceiver.clean_options({"secret": "s"})
    assert cleaned == {
        "secret": "s",
        "path": "/ws",
        "buffer_size": 2000,
        "buffer_bytes": 8 * 1024 * 1024,
        "catchup_agents": 1000,
        "catchup_max_age": 14400.0,
        "catchup_bytes": 64 * 1024 * 1024,
    }
    for options, field in [
        ({"secret": "s", "path": "ws"}, "path"),
        ({"secret": ""}, "secret"),
        ({"secret": 5}, "secret"),
        ({"secret": "s", "buffer_size": 0}, "buffer_size"),
        ({"secret": "s", "buffer_bytes": 1.5}, "buffer_bytes"),
        ({"secret": "s", "catchup_agents": -1}, "catchup_agents"),
        ({"secret": "s", "catchup_max_age": float("inf")}, "catchup_max_age"),
        ({"secret": "s", "catchup_max_age": True}, "catchup_max_age"),
        ({"secret": "s", "catchup_bytes": 0}, "catchup_bytes"),
        ({"secret": "s", "port": 0}, "port"),
    ]:
        with pytest.raises(ValidationError, match=field):
            DashboardReceiver.clean_options(options)
