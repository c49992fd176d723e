"""ethstats login over the real server: per-node credentials, by ``info.name``, shared secrets,
refusals (wrong secret, unknown node, deactivated and banned users), ``ready`` first."""

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from handlers.auth import accounts
from handlers.models import AgentUser, NodeTransport
from simulator.ethstats import Besu, GoEthereum, Nethermind, NodeState, block_at
from tests.agent_client import create_agent_user
from tests.ethstats_support import (
    READY,
    SERVER_CLOSE,
    SHARED_SECRET,
    WAIT,
    feed_until,
    login,
    open_feed,
    open_node,
    silent,
    use_rows,
)
from tests.live import read_events

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def backend(live_backend, recording_path):
    use_rows(secrets=[SHARED_SECRET], recheck_interval=0.5)
    return live_backend()


async def refused(socket, hello: str) -> int:
    """Send the hello; the server must answer ``primus::server::close`` and close. The close code."""
    assert await login(socket, hello) == SERVER_CLOSE
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), WAIT)
    return closed.value.rcvd.code


def test_a_node_logs_in_as_the_agent_user_named_by_its_id_and_ready_comes_first(backend):
    create_agent_user("geth-1", "node-password")
    node = GoEthereum("geth-1", "node-password")

    async def scenario():
        # go-ethereum's dial: Origin http://localhost, a permessage-deflate offer (websockets' default).
        async with open_feed(backend) as feed, open_node(backend, origin="http://localhost") as socket:
            assert await login(socket, node.hello()) == READY
            information = await feed_until(feed, "geth-1", "information")
            assert information == {"type": "information", "body": node.info()}
            assert await silent(socket, 1.0)  # nothing unsolicited after ready

    asyncio.run(scenario())


def test_without_a_user_named_by_the_id_the_user_named_by_info_name_is_used(backend):
    create_agent_user("besu-node", "besu-password")
    node = Besu("besu-node", "besu-password")  # its id is the enode key

    async def scenario():
        async with open_feed(backend) as feed, open_node(backend, "/api/?_primuscb=Nq3w1x") as socket:
            assert await login(socket, node.hello()) == READY
            assert (await feed_until(feed, node.node_id, "information"))["body"] == node.info()

    asyncio.run(scenario())


def test_a_shared_secret_admits_any_id_and_frames_sent_before_ready_are_kept_in_order(backend):
    node = Nethermind("nethermind-x", SHARED_SECRET)

    async def scenario():
        async with open_feed(backend) as feed, open_node(backend) as socket:
            # Nethermind does not wait for ready: hello and its first reports in one burst.
            for frame in (node.hello(), node.stats(NodeState()), node.block(block_at(22_675_000))):
                await socket.send(frame)
            assert await asyncio.wait_for(socket.recv(), WAIT) == READY
            kinds = []
            while len(kinds) < 3:
                frame = await feed_until(feed, node.node_id, None)
                kinds.append(frame["type"])
            assert kinds == ["information", "statistics", "block"]

    asyncio.run(scenario())


def test_the_environment_secrets_are_split_on_bars(live_backend, recording_path):
    use_rows()
    backend = live_backend(env={"POA_ETHSTATS_SECRETS": "first-secret|second-secret"})

    async def scenario():
        for secret in ("first-secret", "second-secret"):
            async with open_node(backend) as socket:
                assert await login(socket, GoEthereum(f"node-{secret}", secret).hello()) == READY
        async with open_node(backend) as socket:
            assert await refused(socket, GoEthereum("node-x", "first-secret|second-secret").hello()) == 4003

    asyncio.run(scenario())


def test_wrong_secrets_unknown_nodes_and_inactive_users_are_refused_and_nothing_is_delivered(
    backend, recording_path
):
    create_agent_user("geth-2", "right-password")
    create_agent_user("sleeper", "sleeper-password", active=False)
    create_agent_user("banned-node", "banned-password")
    accounts.ban_user("banned-node")
    refusals = [
        GoEthereum("geth-2", "wrong-password"),
        GoEthereum("nobody", "any-secret"),
        GoEthereum("sleeper", "sleeper-password"),
        GoEthereum("sleeper", SHARED_SECRET),  # a deactivated user's name: not even a shared secret
        GoEthereum("banned-node", "banned-password"),
    ]

    async def scenario():
        async with open_feed(backend) as feed:
            for node in refusals:
                async with open_node(backend) as socket:
                    await socket.send(node.hello())
                    await socket.send(node.stats(NodeState()))  # refused: never delivered
                    assert await asyncio.wait_for(socket.recv(), WAIT) == SERVER_CLOSE
                    with pytest.raises(ConnectionClosed) as closed:
                        await asyncio.wait_for(socket.recv(), WAIT)
                    assert closed.value.rcvd.code == 4003
            assert await silent(feed, 1.0)
        assert [event for event in read_events(recording_path) if event["event"] == "message"] == []

    asyncio.run(scenario())


def test_broken_hellos_are_refused(backend):
    broken = [
        '{"emit":["hello"]}',
        '{"emit":["hello",{"id":"x","info":{}}]}',  # no secret
        '{"emit":["hello",{"id":"x","secret":"s"}]}',  # no info
        f'{{"emit":["hello",{{"id":"","secret":"{SHARED_SECRET}","info":{{}}}}]}}',
        f'{{"emit":["hello",{{"id":7,"secret":"{SHARED_SECRET}","info":{{}}}}]}}',
        f'{{"emit":["hello",{{"id":"x","secret":"{SHARED_SECRET}","info":[]}}]}}',
        '{"emit":["hello","just a string"]}',
    ]

    async def scenario():
        for hello in broken:
            async with open_node(backend) as socket:
                assert await refused(socket, hello) == 4003, hello

    asyncio.run(scenario())


def test_a_ban_or_deactivation_ends_the_session(backend):
    create_agent_user("geth-ban", "pw-1")
    create_agent_user("geth-off", "pw-2")

    async def scenario():
        async with open_node(backend) as banned, open_node(backend) as deactivated:
            assert await login(banned, GoEthereum("geth-ban", "pw-1").hello()) == READY
            assert await login(deactivated, GoEthereum("geth-off", "pw-2").hello()) == READY
            await asyncio.to_thread(accounts.ban_user, "geth-ban")
            await asyncio.to_thread(AgentUser.objects.filter(name="geth-off").update, is_active=False)
            for socket in (banned, deactivated):
                assert await asyncio.wait_for(socket.recv(), WAIT) == SERVER_CLOSE
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(socket.recv(), WAIT)
                assert closed.value.rcvd.code == 4003

    asyncio.run(scenario())


def test_the_admin_shows_each_nodes_transport_and_client(backend, admin_client):
    create_agent_user("geth-admin", "pw-admin")

    async def scenario():
        for node in (GoEthereum("geth-admin", "pw-admin"), Nethermind("nm-admin", SHARED_SECRET)):
            async with open_node(backend) as socket:
                assert await login(socket, node.hello()) == READY

    asyncio.run(scenario())
    rows = {row.agent_id: row for row in NodeTransport.objects.all()}
    geth, nethermind = rows["geth-admin"], rows[Nethermind("nm-admin", "").node_id]
    assert (geth.transport, geth.client, geth.user_name) == (
        "ethstats",
        "Geth/v1.16.1-stable-12b4131f/linux-amd64/go1.24.4",
        "geth-admin",
    )
    assert (nethermind.transport, nethermind.client, nethermind.user_name) == (
        "ethstats",
        "Nethermind/v1.33.0/linux-x64/dotnet9.0.5",
        "",
    )
    page = admin_client.get("/admin/handlers/nodetransport/")
    assert page.status_code == 200
    assert b"geth-admin" in page.content
    assert b"Geth/v1.16.1-stable-12b4131f/linux-amd64/go1.24.4" in page.content


def test_failed_hellos_are_throttled_per_address_like_session(live_backend, recording_path):
    use_rows(secrets=[SHARED_SECRET])
    backend = live_backend(env={"POA_AUTH_FAILURE_LIMIT": "3", "POA_AUTH_FAILURE_WINDOW": "60"})

    async def scenario():
        for index in range(3):
            async with open_node(backend) as socket:
                assert await refused(socket, GoEthereum(f"guess-{index}", "wrong").hello()) == 4003
        # Over the budget: even a right secret is refused unchecked until the window ends.
        async with open_node(backend) as socket:
            assert await refused(socket, GoEthereum("honest-late", SHARED_SECRET).hello()) == 4003

    asyncio.run(scenario())
