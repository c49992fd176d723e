"""Presence through the running server: /ping, silence, /bye; and shared by two processes over Redis."""

import time

import pytest
import redis

from handlers.auth.tokens import issue_token
from tests.agent_client import call, create_agent_user
from tests.live import LiveBackend, read_events


@pytest.fixture
def token(live_db):
    create_agent_user("agent-user", "secret-password")
    return issue_token("agent-user")


def inactive_events(path):
    return [(event["value"], event["at"]) for event in read_events(path) if event["event"] == "inactive"]


def ping(url, token, agent_id="node-1"):
    reply = call(url, "/ping", {"id": agent_id}, "msgpack", token)
    assert reply.status == 200, reply
    return time.time()


def test_silence_bye_and_a_new_period_over_the_running_server(live_backend, recording_path, token):
    rest = live_backend(env={"POA_INACTIVITY_TIMEOUT": "2"}).url("rest")
    for _ in range(4):
        last_ping = ping(rest, token)
        time.sleep(1.0)
    assert inactive_events(recording_path) == []
    time.sleep(2.5)
    events = inactive_events(recording_path)
    assert [agent for agent, _ in events] == ["node-1"]
    assert 1.8 <= events[0][1] - last_ping <= 3.0

    ping(rest, token)  # a new active period
    ping(rest, token, "node-2")
    said_bye = time.time()
    assert call(rest, "/bye", {"id": "node-1"}, "json", token).status == 200
    assert call(rest, "/bye", {"id": "node-1"}, "json", token).status == 200  # already inactive
    time.sleep(0.5)
    events = inactive_events(recording_path)
    assert [agent for agent, _ in events] == ["node-1", "node-1"]
    assert events[1][1] - said_bye < 0.5
    time.sleep(2.5)
    assert [agent for agent, _ in inactive_events(recording_path)] == ["node-1", "node-1", "node-2"]


@pytest.mark.redis
def test_two_processes_share_presence_and_fire_once(
    live_backend, recording_path, token, redis_url, redis_prefix
):
    env = {"REDIS_URL": redis_url, "POA_REDIS_PREFIX": redis_prefix, "POA_INACTIVITY_TIMEOUT": "3"}
    first = live_backend(env=env)
    # The second process gets its own ports: move the rows on, then start it (the first keeps its sockets).
    second = LiveBackend(env=env)
    second.assign_ports()
    try:
        second.start()
        urls = [first.url("rest"), second.url("rest")]
        assert urls[0] != urls[1]
        started = time.time()
        n = 0
        while time.time() - started < 10:
            # Either process alone sees a ping every 4 s, longer than the 3 s timeout.
            last_ping = ping(urls[n % 2], token)
            n += 1
            time.sleep(2.0)
        assert inactive_events(recording_path) == []
        time.sleep(5.0)
        events = inactive_events(recording_path)
        assert [agent for agent, _ in events] == ["node-1"], events
        assert events[0][1] - last_ping >= 2.8
    finally:
        second.stop()
        client = redis.Redis.from_url(redis_url)
        client.delete(*client.keys(f"{redis_prefix}*") or [f"{redis_prefix}:presence"])
