"""The dashboard backplane in Redis: catch-up keys always carry an expiry, renewed only now and
then; and which agents the catch-up holds, asked for many at once."""

import pytest

from receivers.dashboard.backplane import Bounds, RedisBackplane


@pytest.fixture
def backplane(redis_url, redis_prefix):
    backplane = RedisBackplane(redis_url, redis_prefix, "dashboard", Bounds(agents=100, max_age=3600))
    yield backplane
    keys = list(backplane.client.scan_iter(f"{redis_prefix}:*"))
    if keys:
        backplane.client.delete(*keys)
    backplane.close()


def ttls(backplane: RedisBackplane) -> dict[str, int]:
    keys = [*backplane.keys.values(), backplane.seen_key]
    return {key: backplane.client.ttl(key) for key in keys}


def test_a_key_first_written_after_the_renewal_has_an_expiry_at_once(backplane):
    backplane.share(['{"frame":1}'], {"information": {"node-a": '{"info":1}'}})
    information, statistics = backplane.keys["information"], backplane.keys["statistics"]
    assert ttls(backplane)[information] > 0
    assert ttls(backplane)[statistics] == -2  # not written yet: no key

    backplane.share(['{"frame":2}'], {"statistics": {"node-a": '{"stats":1}'}})

    assert all(ttl > 0 for ttl in ttls(backplane).values())


def test_a_key_already_expiring_is_not_renewed_with_every_batch(backplane):
    backplane.share(['{"frame":1}'], {"information": {"node-a": '{"info":1}'}})
    information = backplane.keys["information"]
    backplane.client.expire(information, 1000)

    backplane.share(['{"frame":2}'], {"information": {"node-b": '{"info":2}'}})

    assert 0 < backplane.client.ttl(information) <= 1000


def test_the_agents_known_are_those_the_catch_up_holds_and_not_too_old(backplane, redis_url, redis_prefix):
    backplane.share(['{"frame":1}'], {"information": {"node-a": '{"info":1}', "node-b": '{"info":2}'}})
    backplane.share(['{"frame":2}'], {"statistics": {"node-c": '{"stats":1}'}})
    backplane.client.zadd(backplane.seen_key, {"node-b": 1.0})  # last seen long before max_age
    other_process = RedisBackplane(redis_url, redis_prefix, "dashboard", backplane.bounds)
    try:
        assert other_process.known(["node-a", "never-seen", "node-b", "node-c"]) == {"node-a", "node-c"}
        assert other_process.known([]) == set()
    finally:
        other_process.close()
