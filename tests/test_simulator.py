"""The agent simulator: the reference agent's payload shapes, and real runs against the server
over REST (with token renewal) and WebSocket, checked from a recording receiver and a dashboard."""

import asyncio
import json
import time
from io import StringIO
from pathlib import Path

import msgpack
from django.core.management import call_command

from receivers.models import Receiver
from simulator.agent import DASHBOARD_TYPES
from simulator.credentials import local_credentials
from simulator.dashboard import Dashboard
from simulator.payloads import AgentState, Chain, encode_data_call, encode_simple_call
from simulator.runner import Simulation, run_simulation
from simulator.stats import stamp_key
from simulator.transports import Credentials
from tests.live import read_events

FIXTURES = Path(__file__).parent / "fixtures" / "agent"


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def shape(value):
    """The structure of a value: key sets and value types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return type(value).__name__


def test_bodies_have_the_reference_agent_shapes():
    chain = Chain(history_depth=3)
    state = AgentState("validator-node-7")
    assert shape(state.information()) == shape(fixture("information")["data"]["body"])
    assert shape(state.statistics(chain.number)) == shape(fixture("statistics")["data"]["body"])
    assert shape(state.system_statistics()) == shape(fixture("system_statistics")["data"]["body"])
    state.syncing = True
    assert shape(state.statistics(chain.number)) == shape(fixture("statistics_syncing")["data"]["body"])
    block = dict(chain.block.body, transactions=["0x" + "ab" * 32])
    assert shape(block) == shape(fixture("block")["data"]["body"])
    history = chain.history.body["history"]
    assert len(history) == 3
    assert shape(dict(history[0], transactions=[])) == shape(
        dict(fixture("history")["data"]["body"]["history"][0], transactions=[])
    )


def test_the_chain_advances_and_links_its_blocks():
    chain = Chain(interval=5.0, history_depth=3)
    first = chain.number
    first_hash = chain.block.body["hash"]
    assert chain.head(chain.started + 11) == first + 2
    assert chain.block.body["number"] == first + 2
    numbers = [block["number"] for block in chain.history.body["history"]]
    assert numbers == [first + 2, first + 1, first]  # newest first
    assert chain.history.body["history"][1]["parentHash"] == first_hash


def test_calls_encode_as_plain_messagepack():
    state = AgentState("node-1")
    body = state.statistics(10)
    rest = msgpack.unpackb(encode_data_call("node-1", "ethereum_metrics", "statistics", body))
    assert rest == {"id": "node-1", "type": "ethereum_metrics", "data": {"type": "statistics", "body": body}}
    chain = Chain()
    encoded = encode_data_call(
        "node-1", "ethereum_metrics", "block", chain.block, stamp=(12.5, 7), call="data", ref=3
    )
    frame = msgpack.unpackb(encoded)
    assert frame == {
        "call": "data",
        "id": "node-1",
        "type": "ethereum_metrics",
        "ref": 3,
        "data": {"ts": 12.5, "seq": 7, "type": "block", "body": chain.block.body},
    }
    assert msgpack.unpackb(encode_simple_call("node-1", call="ping", ref=1)) == {
        "call": "ping",
        "id": "node-1",
        "ref": 1,
    }


def messages(path, settle=3.0, expected=None):
    """The data messages the recording receiver got (waiting up to ``settle`` s for ``expected``)."""
    deadline = time.monotonic() + settle
    while True:
        found = [event["value"] for event in read_events(path) if event["event"] == "message"]
        if (expected is not None and len(found) >= expected) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_realistic_agents_over_rest_send_the_reference_cadence(live_backend, recording_path):
    backend = live_backend()
    credentials = local_credentials("simrest", 2)
    simulation = Simulation(
        url=backend.url("rest"), agents=2, credentials=credentials, duration=5.5, id_prefix="simrest"
    )
    recorder = asyncio.run(run_simulation(simulation))
    assert recorder.rejected == {}
    assert recorder.errors == {}
    assert recorder.accepted == recorder.sent
    # Each agent: information at start, >= 1 ping + latency, statistics and system statistics, bye.
    assert recorder.by_call["ping"] >= 2
    assert recorder.by_call["bye"] == 2
    got = messages(recording_path, expected=recorder.by_call["data"])
    assert len(got) == recorder.by_call["data"]
    kinds = {(item["agent_id"], item["data_type"], item["data"]["type"]) for item in got}
    for agent in ("simrest-00000", "simrest-00001"):
        assert (agent, "ethereum_metrics", "information") in kinds
        assert (agent, "networking_metrics", "latency") in kinds
        assert (agent, "ethereum_metrics", "statistics") in kinds
        assert (agent, "system_metrics", "statistics") in kinds


def test_rest_agents_renew_a_refused_token_at_the_session_endpoint(live_backend, recording_path):
    backend = live_backend()
    [credentials] = local_credentials("simrenew", 1)
    credentials = Credentials(credentials.user, credentials.password, token="not-a-token")
    simulation = Simulation(
        url=backend.url("rest"),
        agents=1,
        credentials=[credentials],
        mode="max",
        limit_per_agent=5,
        duration=20,
        auth_url=backend.url("auth"),
        id_prefix="simrenew",
    )
    recorder = asyncio.run(run_simulation(simulation))
    assert recorder.renewals == 1
    assert recorder.accepted == 5
    assert credentials.token != "not-a-token"


def test_pipelined_websocket_agents_reach_receivers_and_dashboards(live_backend, recording_path):
    backend = live_backend()
    credentials = local_credentials("simws", 3)
    secret = Receiver.objects.get(name="dashboard").build().secret
    dashboard_url = backend.url("dashboard").replace("http://", "ws://") + "/ws"
    url = backend.url("rest")

    async def run():
        dashboard = Dashboard(dashboard_url, secret)
        await dashboard.connect()
        simulation = Simulation(
            url=url,
            agents=3,
            credentials=credentials,
            transport="ws",
            mode="max",
            limit_per_agent=40,
            duration=30,
            window=8,
            id_prefix="simws",
        )
        recorder = await run_simulation(simulation)
        deadline = time.monotonic() + 5
        while dashboard.recorder.received_keys < recorder.accepted_keys and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await dashboard.close()
        return recorder, dashboard.recorder

    recorder, delivered = asyncio.run(run())
    assert recorder.accepted == 120
    assert recorder.rejected == {}
    assert recorder.errors == {}
    # Every acknowledged message of the feed's types reached the dashboard, timed.
    assert recorder.accepted_keys
    assert recorder.accepted_keys <= delivered.received_keys
    assert len(delivered.latencies) >= len(recorder.accepted_keys)
    got = messages(recording_path, expected=120)
    assert len(got) == 120
    seqs = {(item["agent_id"], item["data"]["seq"]) for item in got}
    assert len(seqs) == 120
    dashboard_keys = {
        stamp_key(int(item["agent_id"].rsplit("-", 1)[1]), item["data"]["seq"])
        for item in got
        if item["data_type"] in DASHBOARD_TYPES
    }
    assert dashboard_keys == recorder.accepted_keys


def test_simulateagents_command_makes_local_credentials_and_reports(live_backend, recording_path):
    backend = live_backend()
    out = StringIO()
    call_command(
        "simulateagents",
        "2",
        url=backend.url("rest"),
        transport="ws",
        mode="max",
        duration=2,
        prefix="simcmd",
        stdout=out,
    )
    text = out.getvalue()
    assert "made 2 agent users simcmd-00000" in text
    summary = next(line for line in text.splitlines() if line.startswith("sent "))
    sent = int(summary.split()[1].rstrip(","))
    assert sent > 0
    assert f"accepted {sent} " in summary
    assert "rejected 0, errors 0" in summary
    assert "latency p50" in text
    assert messages(recording_path, expected=1)
