"""The reference agent's real behaviour against the running server, then silence.

MessagePack bodies built from the fixtures; a ping every 3 s, each followed by a
latency data call; statistics every 5 s; a new block (with history) and pending
count now and then; session tokens that expire mid-run and are renewed through
/session after the 401, the call retried once, as the agent does.
"""

import copy
import time

from poa_backend.core.models import MetricType
from receivers.models import Receiver
from tests.agent_client import call, create_agent_user, new_session, sample
from tests.live import read_events

AGENT_ID = "validator-node-7"
RUN_SECONDS = 16.0
TOKEN_LIFETIME = 5  # seconds: several renewals during the run


class ReferenceAgent:
    """Does what the reference agent does with each answer."""

    def __init__(self, rest_url, auth_url, user, password):
        self.rest_url, self.auth_url = rest_url, auth_url
        self.user, self.password = user, password
        self.token = self.renew()
        self.accepted: list[tuple[str, dict]] = []
        self.expired_answers = 0
        self.renewals = 0

    def renew(self):
        return new_session(self.auth_url, self.user, self.password, AGENT_ID)

    def call(self, path, body):
        reply = call(self.rest_url, path, body, "msgpack", self.token)
        if reply.status == 401:
            assert reply.body == b'{"error":"token_expired"}', reply
            self.expired_answers += 1
            self.token = self.renew()
            self.renewals += 1
            reply = call(self.rest_url, path, body, "msgpack", self.token)
        assert reply.status == 200, (path, reply)
        assert reply.json() == {"result": "success"}
        if path == "/data":
            self.accepted.append((body["type"], body["data"]))
        return reply

    def send(self, kind, **body_fields):
        body = copy.deepcopy(sample(kind))
        body["id"] = AGENT_ID
        body["data"]["body"].update(body_fields)
        self.call("/data", body)

    def ping(self):
        started = time.perf_counter()
        self.call("/ping", {"id": AGENT_ID})
        latency = round((time.perf_counter() - started) * 1000)
        self.send("latency", latency=latency)


def test_reference_agent_run_then_silence(live_backend, live_db, tmp_path):
    events_path = tmp_path / "events.jsonl"
    row = Receiver.objects.create(
        name="recording", class_path="tests.plugins.RecordingReceiver", options={"path": str(events_path)}
    )
    row.metric_types.set(MetricType.objects.all())
    create_agent_user("agent-user", "secret-password")
    backend = live_backend(env={"POA_JWT_LIFETIME": str(TOKEN_LIFETIME)})
    agent = ReferenceAgent(backend.url("rest"), backend.url("auth"), "agent-user", "secret-password")

    started = time.monotonic()
    next_ping = next_statistics = next_block = next_pending = started
    block_number, pending, cpu = 5_123_457, 0, 1.5
    agent.send("information")
    while time.monotonic() - started < RUN_SECONDS:
        now = time.monotonic()
        if now >= next_ping:
            agent.ping()
            last_ping = time.time()
            next_ping += 3.0
        if now >= next_statistics:
            agent.send("statistics", uptime=int(now - started))
            cpu += 0.5
            agent.send("system_statistics", cpu_load=cpu)
            next_statistics += 5.0
        if now >= next_block:
            block_number += 1
            agent.send("block", number=block_number)
            agent.send("history", history=[{"number": block_number - n} for n in range(40)])
            next_block += 2.5
        if now >= next_pending:
            pending += 3
            agent.send("pending", pending=pending)
            next_pending += 1.5
        time.sleep(0.1)
    assert agent.expired_answers >= 2
    assert agent.renewals == agent.expired_answers

    # Silence: exactly one inactive event, about the 7 s timeout after the last ping.
    deadline = last_ping + 10.0
    while time.time() < deadline:
        time.sleep(0.25)
    events = read_events(events_path)
    received = [
        (event["value"]["data_type"], event["value"]["data"])
        for event in events
        if event["event"] == "message" and event["value"]["agent_id"] == AGENT_ID
    ]
    assert len(agent.accepted) >= 35
    assert {data["type"] for _, data in agent.accepted} == {
        "information",
        "statistics",
        "block",
        "history",
        "pending",
        "latency",
    }
    assert received == agent.accepted
    inactive = [event for event in events if event["event"] == "inactive"]
    assert [event["value"] for event in inactive] == [AGENT_ID]
    assert 6.8 <= inactive[0]["at"] - last_ping <= 8.5
