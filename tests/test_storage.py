"""Storage receivers: agents' statistics reports as rows, through the real dispatch path."""

import copy
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from receivers.dispatch import dispatcher
from receivers.models import EthereumStatistics, Receiver, SystemStatistics
from receivers.storage import EthereumStatisticsReceiver, SystemStatisticsReceiver
from tests.delivery_support import own_spools  # noqa: F401
from tests.live import wait_until

pytestmark = pytest.mark.usefixtures("live_db")

FIXTURES = Path(__file__).parent / "fixtures" / "agent"
STORAGE_ROWS = ("ethereum_statistics", "system_statistics")


def fixture_message(name, agent_id=None, **fields):
    call = json.loads((FIXTURES / f"{name}.json").read_text())
    return Message(agent_id=agent_id or call["id"], data_type=call["type"], data=call["data"], **fields)


def statistics(agent_id, **changes):
    message = fixture_message("statistics", agent_id)
    message.data["body"].update(changes)
    return message


def system_statistics(agent_id, **changes):
    message = fixture_message("system_statistics", agent_id)
    message.data["body"].update(changes)
    return message


@pytest.fixture
def handler():
    return HandlerPlugin("test-handler", {})


@pytest.fixture
def running():
    """The seeded storage rows, running in this process (the other receivers are not started)."""
    Receiver.objects.exclude(name__in=STORAGE_ROWS).delete()
    assert set(Receiver.objects.filter(enabled=True).values_list("name", flat=True)) == set(STORAGE_ROWS)
    dispatcher.start()
    yield dispatcher
    dispatcher.stop(timeout=10)


def test_statistics_with_syncing_false_and_as_an_object_become_rows(running, handler):
    received = datetime(2026, 6, 16, 14, 50, 0, 123456, tzinfo=UTC)
    handler.send_to_receivers(fixture_message("statistics", accepted_at=received.timestamp()))
    before = datetime.now(UTC)
    handler.send_to_receivers(fixture_message("statistics_syncing"))

    assert wait_until(lambda: EthereumStatistics.objects.count() == 2)
    after = datetime.now(UTC)
    rows = list(EthereumStatistics.objects.order_by("date").values())
    for row in rows:
        del row["id"]
    assert rows[0] == {
        "date": received,
        "agent_id": "validator-node-7",
        "active": True,
        "mining": True,
        "hashrate": 0,
        "peers": 12,
        "gas_price": 1_000_000_000,
        "current_block": None,
        "highest_block": None,
        "starting_block": None,
    }
    # A message made without a time is dated when it was made (accepted).
    assert before <= rows[1].pop("date") <= after
    assert rows[1] == {
        "agent_id": "validator-node-7",
        "active": True,
        "mining": False,
        "hashrate": 0,
        "peers": 4,
        "gas_price": 1_000_000_000,
        "current_block": 0x4E2A41,
        "highest_block": 0x4E2B01,
        "starting_block": 0,
    }
    assert running.get("ethereum_statistics").stats.failures == 0


def test_system_statistics_become_rows(running, handler):
    received = datetime(2026, 6, 16, 14, 50, 5, tzinfo=UTC)
    handler.send_to_receivers(fixture_message("system_statistics", accepted_at=received.timestamp()))
    assert wait_until(lambda: SystemStatistics.objects.count() == 1)
    row = SystemStatistics.objects.values().get()
    del row["id"]
    assert row == {
        "date": received,
        "agent_id": "validator-node-7",
        "cpu_load": 12.5,
        "disk_usage": 61.0,
        "memory_usage": 37.25,
    }


def test_a_thousand_messages_become_a_thousand_rows(running, handler):
    for n in range(1000):
        handler.send_to_receivers(statistics(f"node-{n % 2}", peers=n))
        handler.send_to_receivers(system_statistics(f"node-{n % 2}", cpu_load=n / 10))

    assert wait_until(lambda: EthereumStatistics.objects.count() == 1000, timeout=30)
    assert wait_until(lambda: SystemStatistics.objects.count() == 1000, timeout=30)
    for agent in ("node-0", "node-1"):
        # Arrival order is kept: dates increase in the order the agent's reports were sent.
        peers = list(EthereumStatistics.objects.filter(agent_id=agent).order_by("date").values_list("peers"))
        assert [p for (p,) in peers] == list(range(agent == "node-1", 1000, 2))
        loads = SystemStatistics.objects.filter(agent_id=agent).order_by("date").values_list("cpu_load")
        assert [load for (load,) in loads] == [n / 10 for n in range(agent == "node-1", 1000, 2)]
    for name in STORAGE_ROWS:
        assert running.get(name).stats.delivered == 1000
        assert running.get(name).stats.failures == 0


def test_other_kinds_and_bad_bodies_are_skipped_without_failing_the_batch(running, handler):
    other_kinds = [
        fixture_message("block"),
        fixture_message("history"),
        fixture_message("pending"),
        fixture_message("information"),
        Message("node", "ethereum_metrics", {"body": {}}),
        Message("node", "ethereum_metrics", "not a map"),
        Message("node", "system_metrics", {"type": "load", "body": {}}),
    ]
    bad_ethereum = [
        Message("node", "ethereum_metrics", {"type": "statistics"}),
        Message("node", "ethereum_metrics", {"type": "statistics", "body": [1, 2]}),
        statistics("node", active="yes"),
        statistics("node", peers=-1),
        statistics("node", peers=2**40),
        statistics("node", gasPrice=2**70),
        statistics("node", hashrate=1.5),
        statistics("node", gasPrice="a lot"),
        statistics("node", syncing={"currentBlock": "0x10", "highestBlock": "0x20"}),
        statistics("node", syncing={"currentBlock": "0xzz", "highestBlock": "0x20", "startingBlock": "0x0"}),
        statistics("x" * 256),
    ]
    missing = statistics("node")
    del missing.data["body"]["syncing"]
    bad_ethereum.append(missing)
    bad_system = [
        system_statistics("node", cpu_load=math.nan),
        system_statistics("node", memory_usage="37%"),
        system_statistics("node", disk_usage=True),
        Message("node", "system_metrics", {"type": "statistics", "body": {"cpu_load": 1.0}}),
    ]
    good = [
        statistics("node", gasPrice="0x3b9aca00", hashrate="12"),
        system_statistics("node", disk_usage=61.5),
    ]
    for message in [*other_kinds, *bad_ethereum, good[0], *bad_system, good[1]]:
        handler.send_to_receivers(message)

    ethereum = running.get("ethereum_statistics")
    system = running.get("system_statistics")
    # Each good report is its receiver's last message: once stored, all before it were handled
    assert wait_until(lambda: ethereum.instance.stored == system.instance.stored == 1)
    # and other kinds never reached them: neither spooled nor delivered
    assert ethereum.stats.delivered == len(bad_ethereum) + 1
    assert system.stats.delivered == len(bad_system) + 1
    assert ethereum.stats.failures == system.stats.failures == 0
    assert (ethereum.instance.stored, ethereum.instance.skipped) == (1, len(bad_ethereum))
    assert (system.instance.stored, system.instance.skipped) == (1, len(bad_system))
    assert list(EthereumStatistics.objects.values_list("agent_id", "gas_price", "hashrate")) == [
        ("node", 1_000_000_000, 12)
    ]
    assert list(SystemStatistics.objects.values_list("agent_id", "disk_usage")) == [("node", 61.5)]


def test_one_agents_reports_of_one_instant_are_all_kept(running, handler):
    instant = datetime(2026, 6, 16, 14, 50, tzinfo=UTC).timestamp()
    # Three messages accepted in one instant (one clock tick of a busy handler), then three more.
    for n in range(3):
        handler.send_to_receivers(_with(statistics("node", peers=n), accepted_at=instant - 1))
    for n in range(3, 6):
        handler.send_to_receivers(_with(statistics("node", peers=n), accepted_at=instant))
    # Another agent in the same instant: its own times.
    handler.send_to_receivers(_with(statistics("other", peers=6), accepted_at=instant))
    handler.send_to_receivers(_with(statistics("other", peers=7), accepted_at=instant))

    assert wait_until(lambda: EthereumStatistics.objects.count() == 8)
    rows = list(
        EthereumStatistics.objects.order_by("agent_id", "date").values_list("agent_id", "date", "peers")
    )
    assert [peers for _, _, peers in rows] == [0, 1, 2, 3, 4, 5, 6, 7]
    node_dates = [date for agent, date, _ in rows if agent == "node"]
    assert len(set(node_dates)) == 6
    assert (
        node_dates[0]
        == node_dates[1] - timedelta(microseconds=1)
        == node_dates[2] - timedelta(microseconds=2)
    )
    other_dates = [date for agent, date, _ in rows if agent == "other"]
    assert other_dates == [
        datetime.fromtimestamp(instant, UTC),
        datetime.fromtimestamp(instant, UTC) + timedelta(microseconds=1),
    ]


def test_a_batch_delivered_again_adds_no_row(running, handler):
    """What a restart or a retried batch does: the same spooled messages written twice."""
    instant = datetime(2026, 6, 16, 14, 50, tzinfo=UTC).timestamp()
    sent = [_with(statistics("node", peers=n), accepted_at=instant) for n in range(5)]
    for message in sent:
        handler.send_to_receivers(message)
    assert wait_until(lambda: EthereumStatistics.objects.count() == 5)

    receiver = EthereumStatisticsReceiver("ethereum_statistics", {})
    receiver.handle_messages(sent)  # the very messages, as stamped at acceptance
    receiver.handle_messages(sent[2:])
    assert EthereumStatistics.objects.count() == 5
    assert sorted(EthereumStatistics.objects.values_list("peers", flat=True)) == [0, 1, 2, 3, 4]


def _with(message, accepted_at):
    message.accepted_at = accepted_at
    return message


@pytest.mark.parametrize("receiver_class", [EthereumStatisticsReceiver, SystemStatisticsReceiver])
def test_a_batch_is_one_bulk_insert_not_one_query_per_message(receiver_class):
    receiver = receiver_class("storage", {})
    make = statistics if receiver_class is EthereumStatisticsReceiver else system_statistics
    messages = [make(f"node-{n % 7}") for n in range(500)]
    model = receiver.model
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    rows_per_insert = min(
        receiver.insert_batch_size,
        connection.ops.bulk_batch_size(fields, [model() for _ in messages]) or len(messages),
    )

    # On PostgreSQL the batch goes in by COPY, on the raw cursor: count those calls too.
    copies = []
    copy_rows = receiver._copy
    receiver._copy = lambda connection, rows: (copies.append(len(rows)), copy_rows(connection, rows))

    with CaptureQueriesContext(connection) as queries:
        receiver.handle_messages(copy.deepcopy(messages))

    inserts = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith("INSERT")
    ]
    assert model.objects.count() == 500
    assert copies == ([500] if connection.vendor == "postgresql" else [])
    assert 1 <= len(inserts) + len(copies) <= math.ceil(500 / rows_per_insert) < 500
    # Nothing else per row either: at most the inserts plus transaction bookkeeping.
    assert len(queries.captured_queries) <= len(inserts) + 4


@pytest.mark.parametrize("receiver_class", [EthereumStatisticsReceiver, SystemStatisticsReceiver])
def test_a_batch_meeting_a_stored_row_keeps_the_others(receiver_class):
    make = statistics if receiver_class is EthereumStatisticsReceiver else system_statistics
    first, again, other = make("node-1"), make("node-1"), make("node-2")
    for message in (first, again, other):
        message.accepted_at = 1_750_000_000.25
    receiver_class("storage", {}).handle_messages([first])
    # Another process (a new receiver) stamps the same agent and instant: that row is skipped.
    receiver_class("storage", {}).handle_messages([again, other])
    assert sorted(receiver_class.model.objects.values_list("agent_id", flat=True)) == ["node-1", "node-2"]


def test_the_seeded_rows_build_the_storage_receivers():
    rows = {row.name: row for row in Receiver.objects.filter(name__in=STORAGE_ROWS)}
    for row in rows.values():
        row.full_clean()
    assert isinstance(rows["ethereum_statistics"].build(), EthereumStatisticsReceiver)
    assert isinstance(rows["system_statistics"].build(), SystemStatisticsReceiver)
