"""The ethstats conversation over the real server: answers (node-pong, Primus pong), nothing
unsolicited, each client profile's reports on the POA dashboard feed with exactly the
normalized bodies, history requests and answers, unknown events, other nodes' ids."""

import asyncio
import json
import time

import pytest

from simulator.ethstats import Besu, Erigon, GoEthereum, Nethermind, NodeAgent, NodeState, Reth, block_at
from tests.ethstats_support import (
    READY,
    SHARED_SECRET,
    WAIT,
    feed_until,
    login,
    open_feed,
    open_node,
    silent,
    use_rows,
)

pytestmark = pytest.mark.usefixtures("live_db")

HEAD = 22_675_000
STATE = NodeState(peers=50, pending=142, gas_price=1_234_567_890, syncing=False, uptime=100)


@pytest.fixture
def backend(live_backend, recording_path):
    use_rows(secrets=[SHARED_SECRET])
    return live_backend()


async def next_frame(socket) -> str:
    return await asyncio.wait_for(socket.recv(), WAIT)


CLIENT_TIMES = [
    "2026-08-20 10:00:00.123456789 +0000 UTC m=+15.002",  # go-ethereum
    "1749558896123",  # Besu
    1749558896123,  # Nethermind, the Node agent
    2**70,  # beyond 64 bits: echoed exactly
    1.5,
    None,
    True,
    {"nested": [1, "two"]},
    [],
]


def test_node_ping_is_answered_at_once_with_client_time_echoed_whatever_its_type(backend):
    async def scenario():
        async with open_node(backend) as socket:
            assert await login(socket, GoEthereum("pinger", SHARED_SECRET).hello()) == READY
            for client_time in CLIENT_TIMES:
                before = int(time.time() * 1000)
                await socket.send(
                    json.dumps({"emit": ["node-ping", {"clientTime": client_time, "id": "pinger"}]})
                )
                answer = json.loads(await next_frame(socket))
                after = int(time.time() * 1000)
                assert list(answer) == ["emit"]
                assert answer["emit"][0] == "node-pong"
                pong = answer["emit"][1]
                assert list(pong) == ["clientTime", "serverTime"]
                assert pong["clientTime"] == client_time
                assert type(pong["clientTime"]) is type(client_time)
                assert isinstance(pong["serverTime"], int)
                assert before - 1000 <= pong["serverTime"] <= after + 1000
            # Without clientTime: echoed as null, as eth-netstats does.
            await socket.send('{"emit":["node-ping",{"id":"pinger"}]}')
            assert json.loads(await next_frame(socket))["emit"][1]["clientTime"] is None

    asyncio.run(scenario())


def test_primus_pings_get_pongs_with_the_same_number_and_nothing_is_sent_unasked(backend):
    async def scenario():
        async with open_node(backend) as socket:
            assert await login(socket, Reth("quiet", SHARED_SECRET).hello()) == READY
            await socket.send('"primus::ping::1749558896123"')
            assert await next_frame(socket) == '"primus::pong::1749558896123"'
            # Other Primus strings, primus-spark-latency's objects, unknown events: no answer, still open.
            for frame in (
                '"primus::pong::1"',
                '"primus::server::close"',
                '{"_latency":0}',
                '{"emit":["update",{}]}',
            ):
                await socket.send(frame)
            assert await silent(socket, 3.0)  # no Primus pings of ours, no node-pong unasked
            await socket.send('"primus::ping::7"')
            assert await next_frame(socket) == '"primus::pong::7"'

    asyncio.run(scenario())


def expected_besu_block(node: Besu, number: int) -> dict:
    block = block_at(number)
    body = node.block_body(block)
    body.update(
        number=number,
        timestamp=block.timestamp,
        gasUsed=15_123_456,
        gasLimit=36_000_000,
        size=54_321,
        difficulty="0",
    )  # no totalDifficulty added: Besu sent none
    return body


def expected_reth_block(node: Reth, number: int) -> dict:
    block = block_at(number)
    return {**node.block_body(block), "number": number, "timestamp": block.timestamp}


def expected_statistics(**sent) -> dict:
    return {"type": "statistics", "body": sent}


GETH_STATS = {"active": True, "syncing": False, "peers": 50, "gasPrice": 1_234_567_890, "uptime": 100}
PROFILES = {
    "go-ethereum": (
        GoEthereum("geth-feed", SHARED_SECRET),
        lambda node: node.block_body(block_at(HEAD)),  # already integers and decimal strings
        {**GETH_STATS, "mining": False, "hashrate": 0},
    ),
    "besu": (
        Besu("besu-feed", SHARED_SECRET),
        lambda node: expected_besu_block(node, HEAD),
        # Besu's syncing flag is what it sent (true: in sync); mining and hashrate were sent.
        {
            "active": True,
            "mining": False,
            "hashrate": 0,
            "peers": 50,
            "gasPrice": 1_234_567_890,
            "syncing": True,
            "uptime": 100,
        },
    ),
    "nethermind": (
        Nethermind("nethermind-feed", SHARED_SECRET),
        lambda node: node.block_body(block_at(HEAD)),
        {
            "active": True,
            "syncing": False,
            "mining": False,
            "hashrate": 0,
            "peers": 50,
            "gasPrice": 1_234_567_890,
            "uptime": 100,
        },
    ),
    "reth": (
        Reth("reth-feed", SHARED_SECRET),
        lambda node: expected_reth_block(node, HEAD),
        {**GETH_STATS, "mining": False, "hashrate": 0},
    ),
    "erigon": (
        Erigon("erigon-feed", SHARED_SECRET),
        lambda node: node.block_body(block_at(HEAD)),
        {
            "active": True,
            "syncing": False,
            "mining": False,
            "hashrate": 0,
            "peers": 50,
            "gasPrice": 0,
            "uptime": 100,
        },
    ),
    "eth-net-intelligence-api": (
        NodeAgent("node-agent-feed", SHARED_SECRET),
        lambda node: node.block_body(block_at(HEAD)),  # hash strings for transactions, kept as sent
        {
            "active": True,
            "syncing": False,
            "mining": False,
            "hashrate": 0,
            "peers": 50,
            "gasPrice": "1234567890",  # a decimal string, as sent
            "uptime": 100,
        },
    ),
}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_each_client_profile_reaches_the_dashboard_feed_with_the_normalized_bodies(backend, profile):
    node, expected_block, expected_stats = PROFILES[profile]

    async def scenario():
        async with open_feed(backend) as feed, open_node(backend) as socket:
            assert await login(socket, node.hello()) == READY
            assert await feed_until(feed, node.node_id, None) == {"type": "information", "body": node.info()}
            for frame in node.report(block_at(HEAD), STATE, latency_ms=7):
                await socket.send(frame)
            got = {}
            while len(got) < 4:
                data = await feed_until(feed, node.node_id, None)
                got[data["type"]] = data["body"]
            assert got == {
                "latency": {"latency": 7},
                "block": expected_block(node),
                "pending": {"pending": 142},
                "statistics": expected_stats,
            }

    asyncio.run(scenario())


def test_huge_quantities_stay_exact_and_hex_and_decimal_strings_become_integers(backend):
    block = {
        "number": hex(HEAD),
        "timestamp": "1749558896",
        "gasUsed": 15123456,
        "gasLimit": "0x2255100",
        "size": "0xd431",
        "difficulty": "0x2a",
        "totalDifficulty": 58750003716598352816469,
        "hash": "0xAbC",
        "extra": {"kept": [1, None]},
    }

    async def scenario():
        async with open_feed(backend) as feed, open_node(backend) as socket:
            assert await login(socket, GoEthereum("quantities", SHARED_SECRET).hello()) == READY
            await socket.send(json.dumps({"emit": ["block", {"id": "quantities", "block": block}]}))
            assert await feed_until(feed, "quantities", "block") == {
                "type": "block",
                "body": {
                    "number": 22_675_000,
                    "timestamp": 1_749_558_896,
                    "gasUsed": 15_123_456,
                    "gasLimit": 36_000_000,
                    "size": 54_321,
                    "difficulty": "42",
                    "totalDifficulty": "58750003716598352816469",
                    "hash": "0xAbC",
                    "extra": {"kept": [1, None]},
                },
            }

    asyncio.run(scenario())


def test_unknown_events_and_other_nodes_ids_produce_nothing_and_the_session_stays_open(backend):
    node = GoEthereum("honest", SHARED_SECRET)
    other = GoEthereum("victim", SHARED_SECRET)

    async def scenario():
        async with open_feed(backend) as feed, open_node(backend) as socket:
            assert await login(socket, node.hello()) == READY
            assert (await feed_until(feed, "honest", None))["type"] == "information"
            for frame in (
                node.new_payload(block_at(HEAD)),
                '{"emit":["new-payload",{"id":"honest","payload":{"number":"0x15a0a38","processingTime":42}}]}',
                other.block(block_at(HEAD)),  # another node's id: never attributed to it
                other.stats(STATE),
                other.hello(),  # a second hello, for another id
                node.hello(),  # and for its own
            ):
                await socket.send(frame)
            await socket.send(node.pending(STATE))
            frame = json.loads(await asyncio.wait_for(feed.recv(), WAIT))
            assert frame == {"agent_id": "honest", "data": {"type": "pending", "body": {"pending": 142}}}
            assert await silent(feed, 0.5)
            await socket.send(node.node_ping())
            assert json.loads(await next_frame(socket))["emit"][0] == "node-pong"

    asyncio.run(scenario())


def test_after_a_latency_a_node_is_asked_for_missing_blocks_once_and_its_answer_is_history(backend):
    geth = GoEthereum("historian", SHARED_SECRET)
    nethermind = Nethermind("no-history", SHARED_SECRET)  # canUpdateHistory false: never asked

    async def scenario():
        async with open_feed(backend) as feed, open_node(backend) as socket, open_node(backend) as other:
            assert await login(socket, geth.hello()) == READY
            assert await login(other, nethermind.hello()) == READY
            await socket.send(geth.block(block_at(HEAD)))
            await other.send(nethermind.block(block_at(HEAD)))
            await other.send(nethermind.latency(5))
            assert await silent(socket, 0.5)  # a block alone asks nothing: only after a latency
            await socket.send(geth.latency(3))
            request = json.loads(await next_frame(socket))
            wanted = list(range(HEAD - 50, HEAD))
            assert request == {"emit": ["history", {"max": HEAD - 1, "min": HEAD - 50, "list": wanted}]}
            # The answer, newest first as go-ethereum sends it, becomes a history message in that order.
            await socket.send(geth.history([block_at(number) for number in wanted]))
            history = await feed_until(feed, "historian", "history")
            assert history == {
                "type": "history",
                "body": {"history": [geth.block_body(block_at(n)) for n in reversed(wanted)]},
            }
            # Once in 2 minutes: the next latency asks nothing, whatever is missing.
            await socket.send(geth.block(block_at(HEAD + 60)))
            await socket.send(geth.latency(3))
            assert await silent(socket, 1.0)
            assert await silent(other, 0.1)

    asyncio.run(scenario())
