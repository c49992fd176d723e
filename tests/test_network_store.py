"""The network view's Redis store: what every batch writes, and what it repeats only now and then."""

import time

import pytest

from receivers.network.reports import Report
from receivers.network.store import RedisStore

REFRESH = 0.5


@pytest.fixture
def store(redis_url, redis_prefix):
    store = RedisStore(redis_url, redis_prefix, "test", max_nodes=500, max_blocks=64)
    store.REFRESH = REFRESH
    yield store
    keys = list(store.client.scan_iter(f"{redis_prefix}:*"))
    if keys:
        store.client.delete(*keys)
    store.close()


def reports_of_node_a(at: float) -> list[Report]:
    return [
        Report("node-a", at, {"name": "a"}, block=("0xabc", 7, 1_700_000_000)),
        Report("node-a", at + 0.1, {"peers": 3}),
    ]


def keys_of(store: RedisStore, redis_prefix: str) -> list[str]:
    return sorted(store.client.scan_iter(f"{redis_prefix}:*"))


def test_a_batch_writes_the_nodes_latest_fields_and_every_key_expires(store, redis_prefix):
    store.record(reports_of_node_a(time.time()))

    snapshot = store.read()
    assert snapshot.nodes["node-a"]["peers"] == 3
    assert snapshot.nodes["node-a"]["first_seen"] is not None
    assert snapshot.up_minutes["node-a"] == 1
    assert [block.number for block in snapshot.blocks] == [7]
    keys = keys_of(store, redis_prefix)
    assert len(keys) == 5  # nodes, node:, up:, blocks, block:
    assert all(0 < store.client.ttl(key) <= RedisStore.EXPIRE for key in keys)


def test_expiries_are_renewed_at_most_once_per_refresh(store, redis_prefix):
    store.REFRESH = 3600.0
    store.record(reports_of_node_a(time.time()))
    node_key = f"{redis_prefix}:network:test:node:node-a"
    store.client.expire(node_key, 1000)

    store.record(reports_of_node_a(time.time()))
    assert store.client.ttl(node_key) <= 1000  # within REFRESH: not written again
    store.REFRESH = 0.0  # as if REFRESH had passed
    store.record(reports_of_node_a(time.time()))
    assert store.client.ttl(node_key) > 1000


def test_keys_redis_lost_are_back_within_the_refresh(store, redis_prefix):
    store.record(reports_of_node_a(time.time()))
    store.client.delete(*keys_of(store, redis_prefix))  # Redis restarted with nothing kept

    store.record(reports_of_node_a(time.time()))
    assert store.read().nodes["node-a"]["peers"] == 3  # the latest fields come with every batch
    time.sleep(REFRESH)
    store.record(reports_of_node_a(time.time()))

    snapshot = store.read()
    assert snapshot.nodes["node-a"]["first_seen"] is not None
    assert snapshot.up_minutes["node-a"] == 1
    assert [block.number for block in snapshot.blocks] == [7]
    keys = keys_of(store, redis_prefix)
    assert len(keys) == 5
    assert all(0 < store.client.ttl(key) <= RedisStore.EXPIRE for key in keys)


def test_a_node_trimmed_and_heard_again_starts_afresh(store, redis_prefix):
    store.REFRESH = 3600.0
    store.max_nodes = 1
    at = time.time()
    store.record([Report("node-a", at, {"peers": 1})])
    store.record([Report("node-b", at + 1, {"peers": 2})])  # node-a is the oldest: trimmed
    assert set(store.read().nodes) == {"node-b"}

    store.record([Report("node-a", at + 2, {"peers": 3})])  # node-b trimmed in turn

    snapshot = store.read()
    assert set(snapshot.nodes) == {"node-a"}
    assert snapshot.nodes["node-a"]["first_seen"] == at + 2
    assert 0 < store.client.ttl(f"{redis_prefix}:network:test:node:node-a") <= RedisStore.EXPIRE


def test_a_read_fetches_again_only_the_blocks_that_gained_arrivals(store, redis_prefix):
    at = time.time()
    store.record([*reports_of_node_a(at), Report("node-b", at, {}, block=("0xdef", 8, 1_700_000_005))])
    first = store.read()
    old_block, new_block = first.blocks

    store.record([Report("node-b", at + 1, {}, block=("0xdef", 8, 1_700_000_005))])  # already known
    store.record([Report("node-c", at + 2, {}, block=("0xdef", 8, 1_700_000_005))])
    second = store.read()

    assert second.blocks[0] is old_block  # unchanged: reused, not fetched and parsed again
    assert second.blocks[1] is not new_block
    assert second.blocks[1].arrivals == {"node-b": at, "node-c": at + 2}


def test_a_block_gone_from_redis_is_gone_from_the_next_read(store, redis_prefix):
    at = time.time()
    store.record(reports_of_node_a(at))
    assert [block.number for block in store.read().blocks] == [7]

    store.client.delete(f"{redis_prefix}:network:test:block:0xabc")  # expired, or Redis lost it
    assert store.read().blocks == []

    store.REFRESH = 0.0  # its number and time written again with the next report
    store.record([Report("node-b", at + 1, {}, block=("0xabc", 7, 1_700_000_000))])
    assert [(b.number, b.arrivals) for b in store.read().blocks] == [(7, {"node-b": at + 1})]


def test_nodes_going_inactive_together_are_marked_and_unknown_ones_left_out(store, redis_prefix):
    at = time.time()
    store.record([Report("node-a", at, {"name": "a"}), Report("node-b", at, {"name": "b"})])
    store.record([Report("node-c", at, {"name": "c"})])

    store.inactive(["node-a", "never-seen", "node-c"], at + 1)

    nodes = store.read().nodes
    assert (nodes["node-a"]["active"], nodes["node-a"]["inactive_since"]) == (False, at + 1)
    assert (nodes["node-c"]["active"], nodes["node-c"]["inactive_since"]) == (False, at + 1)
    assert nodes["node-b"].get("active") is not False
    assert "never-seen" not in nodes
    assert not list(store.client.scan_iter(f"{redis_prefix}:*never-seen*"))
