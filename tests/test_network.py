"""The network view over the real server: block propagation, best block, per-node state, the API.

The propagation figures are checked against a scripted scenario: three nodes
report the same block 0, 300 and 900 ms apart.
"""

import threading
import time

import pytest

from tests.live import wait_until
from tests.network_support import (
    ETHEREUM,
    NETWORKING,
    KeepAlive,
    agents,
    make_staff,
    redis_environment,
    staff_get,
    statistics_body,
)


@pytest.fixture
def staff(live_db):
    return make_staff()


@pytest.fixture
def redis_env(redis_url, redis_prefix):
    with redis_environment(redis_url, redis_prefix) as env:
        yield env


NODES = ("node-a", "node-b", "node-c")
OFFSETS = (0.0, 0.3, 0.9)


def report_block_in_turn(by_id, number, offsets=OFFSETS):
    """Each node reports block ``number`` at its offset after the first, each on its own thread
    (one slow answer does not hold the next report back); each call's (sent, answered) times."""
    start = time.time() + 0.2
    windows = {}

    def report(agent_id, offset):
        time.sleep(max(0.0, start + offset - time.time()))
        sent = by_id[agent_id].block(number)
        windows[agent_id] = (sent, time.time())

    threads = [threading.Thread(target=report, args=item) for item in zip(by_id, offsets, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return windows


def block_with_arrivals(api, path, number, count):
    found = {}

    def arrived():
        for block in staff_get(api, path):
            if block["number"] == number and len(block["arrivals"]) == count:
                found.update(block)
                return True
        return False

    assert wait_until(arrived, timeout=10), staff_get(api, path)
    return found


def test_propagation_of_a_scripted_block_is_each_nodes_delay_after_the_first(staff, live_backend):
    backend = live_backend()
    api = backend.url("auth")
    by_id = agents(backend.url("rest"), *NODES)
    for agent in by_id.values():
        agent.information()
        agent.data(ETHEREUM, "statistics", statistics_body(peers=7))
        agent.data(NETWORKING, "latency", {"latency": 25})
    windows = report_block_in_turn(by_id, 1000)

    block = block_with_arrivals(api, "/api/blocks/", 1000, 3)
    delays = {arrival["node"]: arrival["delay_ms"] for arrival in block["arrivals"]}
    for agent_id in NODES:
        # Each was accepted while its call was open: the delay lies within what the calls allow.
        earliest = (windows[agent_id][0] - windows["node-a"][1]) * 1000
        latest = (windows[agent_id][1] - windows["node-a"][0]) * 1000
        assert max(0.0, earliest) <= delays[agent_id] <= latest, (delays, windows)
    fastest_first = sorted(NODES, key=delays.get)
    assert [arrival["node"] for arrival in block["arrivals"]] == fastest_first

    # node-a moves on alone: the others are one block behind; the network's best is its block.
    by_id["node-a"].block(1001)
    assert wait_until(lambda: staff_get(api, "/api/network/")["best_block"]["number"] == 1001, timeout=10)
    network = staff_get(api, "/api/network/")
    assert network["nodes"] == 3
    assert network["active_nodes"] == 3
    assert network["network"] == "poa"
    assert sum(b["count"] for b in network["propagation_histogram"]) == 4  # three delays and one

    nodes = {node["id"]: node for node in staff_get(api, "/api/nodes/")}
    assert nodes["node-a"]["blocks_behind"] == 0
    assert nodes["node-b"]["blocks_behind"] == 1
    assert nodes["node-c"]["blocks_behind"] == 1
    assert nodes["node-c"]["peers"] == 7
    assert nodes["node-c"]["latency_ms"] == 25
    assert nodes["node-c"]["uptime"] == 100.0

    detail = staff_get(api, "/api/nodes/node-c/")
    assert abs(detail["propagation"]["last_ms"] - 900) <= 50
    assert detail["blocks"] == [{"number": 1000, "hash": f"0x{1000:064x}", "delay_ms": delays["node-c"]}]
    assert detail["propagation"]["blocks"] == 1


def test_a_node_that_goes_quiet_is_down_in_the_view(staff, live_backend):
    backend = live_backend(env={"POA_INACTIVITY_TIMEOUT": "1"})
    api = backend.url("auth")
    node = agents(backend.url("rest"), "node-quiet")["node-quiet"]
    alive = KeepAlive(node)
    try:
        assert wait_until(lambda: staff_get(api, "/api/nodes/node-quiet/")["active"], timeout=10)
    finally:
        alive.stop()  # it goes quiet: inactive after the timeout
    assert wait_until(lambda: not staff_get(api, "/api/nodes/node-quiet/")["active"], timeout=10)
    assert staff_get(api, "/api/nodes/node-quiet/")["inactive_since"] is not None
    alive = KeepAlive(node, first_block=alive.number)
    try:
        assert wait_until(lambda: staff_get(api, "/api/nodes/node-quiet/")["active"], timeout=10)
        assert staff_get(api, "/api/nodes/node-quiet/")["inactive_since"] is None
    finally:
        alive.stop()


def test_unknown_node_is_404_and_the_api_is_for_staff_only(staff, live_backend):
    backend = live_backend()
    api = backend.url("auth")
    from tests.agent_client import request

    assert (
        request(
            api,
            "/api/nodes/nobody/",
            method="GET",
            headers={"Authorization": "Basic bmV0d29yay1vcGVyYXRvcjpuZXR3b3JrLXBhc3MtMQ=="},
        ).status
        == 404
    )
    for path in ("/api/network/", "/api/nodes/", "/api/blocks/", "/api/nodes/x/"):
        assert request(api, path, method="GET").status == 401


def test_processes_sharing_redis_answer_the_same(staff, live_backend, redis_env):
    first = live_backend(env=redis_env)
    second = live_backend(env=redis_env)
    a = agents(first.url("rest"), "node-a")["node-a"]
    b = agents(second.url("rest"), "node-b")["node-b"]
    windows = report_block_in_turn({"node-a": a, "node-b": b}, 77, offsets=(0.0, 0.3))
    # Each process saw each report somewhere between its call and its answer.
    earliest = (windows["node-b"][0] - windows["node-a"][1]) * 1000
    latest = (windows["node-b"][1] - windows["node-a"][0]) * 1000
    answers = []
    for backend in (first, second):
        block = block_with_arrivals(backend.url("auth"), "/api/blocks/", 77, 2)
        delays = {arrival["node"]: arrival["delay_ms"] for arrival in block["arrivals"]}
        assert delays["node-a"] == 0
        assert max(0.0, earliest) <= delays["node-b"] <= latest, (delays, windows)
        answers.append(delays)
    assert answers[0] == answers[1]  # one view, shared through Redis


def test_uptime_counts_minutes_up_and_not_the_minute_an_up_node_is_in():
    from dataclasses import replace

    from poa_backend.core.message import Message
    from receivers.network.reports import read
    from receivers.network.store import MemoryStore
    from receivers.network.view import compute

    store = MemoryStore(10, 64)
    start = (time.time() // 60 - 10) * 60 + 59  # the last second of a minute, ten minutes ago
    store.record(
        [read(Message("n", ETHEREUM, {"type": "pending", "body": {"pending": 1}}, accepted_at=start))]
    )
    snapshot = store.read()
    assert compute(replace(snapshot, taken_at=start + 2)).node("n").uptime == 100.0  # up, next minute begun
    store.inactive(["n"], start + 3)
    down = store.read()
    assert compute(replace(down, taken_at=start + 62)).node("n").uptime == 100 / 3  # two minutes down


def test_each_delay_falls_in_the_bin_its_lower_bound_opens():
    from receivers.network.view import Block, histogram

    delays = [0.0, 99.9, 100.0, 249.0, 250.0, 9999.0, 10000.0, 60000.0]
    block = Block(1, "0x1", None, 0.0, {f"n{i}": d for i, d in enumerate(delays)})
    bins = histogram([block])
    assert [(b["from_ms"], b["to_ms"]) for b in bins][:2] == [(0.0, 100), (100, 250)]
    assert bins[-1]["to_ms"] is None
    assert [b["count"] for b in bins] == [2, 2, 1, 0, 0, 0, 1, 2]
