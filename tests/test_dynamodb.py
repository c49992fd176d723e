"""DynamoDB block storage: boto3 against moto's server mode, started (and stopped) by the test."""

import copy
import json
import os
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from django.core.exceptions import ValidationError

from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from receivers.dispatch import dispatcher
from receivers.dynamodb import DynamoDBBlockReceiver, to_dynamodb
from receivers.models import Receiver
from tests.delivery_support import own_spools  # noqa: F401
from tests.fault_support import MotoServer
from tests.live import free_port, wait_until

pytestmark = pytest.mark.usefixtures("live_db")

FIXTURES = Path(__file__).parent / "fixtures" / "agent"
TABLE = "poa_blocks"


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto(tmp_path, aws_env):
    server = MotoServer(free_port(), tmp_path / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def table_of(moto):
    def scan():
        table = boto3.resource("dynamodb", endpoint_url=moto.url, region_name="us-east-1").Table(TABLE)
        items, kwargs = [], {}
        while True:
            page = table.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return scan


def items_or_none(scan):
    try:
        return scan()
    except Exception:  # the table is not there (yet)
        return None


@pytest.fixture
def running(moto):
    """The seeded dynamodb_blocks row, pointed at the moto server and enabled, alone in this process."""
    Receiver.objects.exclude(name="dynamodb_blocks").delete()
    row = Receiver.objects.get(name="dynamodb_blocks")
    row.options = {
        **row.options,
        "endpoint_url": moto.url,
        "create_table": True,
        "retry_initial_delay": 0.05,
        "retry_max_delay": 0.5,
    }
    row.enabled = True
    row.full_clean()
    row.save()
    dispatcher.start()
    yield dispatcher
    dispatcher.stop(timeout=10)


def block(agent_id, number, **changes):
    call = json.loads((FIXTURES / "block.json").read_text())
    body = call["data"]["body"]
    body.update(number=number, hash=f"0x{number:064x}", **changes)
    return Message(agent_id, call["type"], call["data"])


def expected_block(message):
    body = copy.deepcopy(message.data["body"])
    del body["transactions"], body["uncles"]
    return body


def plain(value):
    """An item read back with boto3's resource API, with Decimals as the ints/floats they came from."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def test_every_block_becomes_one_item_and_none_is_lost_across_an_outage(running, moto, table_of):
    handler = HandlerPlugin("test-handler", {})
    receiver = running.get("dynamodb_blocks")
    before = [block(agent, n) for n in range(1, 31) for agent in ("node-a", "node-b")]
    # Other kinds share ethereum_metrics: the receiver takes only blocks, so they never reach it.
    for name in ("statistics", "pending", "history", "information"):
        call = json.loads((FIXTURES / f"{name}.json").read_text())
        handler.send_to_receivers(Message("node-a", call["type"], call["data"]))
    for message in before:
        handler.send_to_receivers(message)

    assert wait_until(lambda: len(items_or_none(table_of) or []) == len(before), timeout=30)
    assert wait_until(lambda: receiver.stats.delivered == len(before))
    items = table_of()
    by_block = {(item["agent_id"], int(item["payload"]["block"]["number"])): item for item in items}
    assert len(by_block) == len(before)
    for message in before:
        item = by_block[(message.agent_id, message.data["body"]["number"])]
        assert set(item) == {"agent_id", "msg_time", "msg_type", "payload"}
        assert item["msg_type"] == "block"
        assert datetime.fromisoformat(item["msg_time"]).utcoffset().total_seconds() == 0
        assert list(item["payload"]) == ["block"]
        assert "transactions" not in item["payload"]["block"]
        assert "uncles" not in item["payload"]["block"]
        assert plain(item["payload"]["block"]) == expected_block(message)
    assert receiver.instance.skipped == 0
    assert receiver.stats.failures == 0

    moto.stop()
    during = [block(agent, n) for n in range(31, 51) for agent in ("node-a", "node-b")]
    for message in during:
        handler.send_to_receivers(message)
    assert wait_until(lambda: receiver.instance.errors >= 3, timeout=15)
    time.sleep(1.0)  # down for a while: the receiver keeps retrying the same batch
    assert items_or_none(table_of) is None
    moto.start()  # same port, empty: the receiver creates the table again and writes the batch

    assert wait_until(lambda: len(items_or_none(table_of) or []) == len(during), timeout=30)
    got = {(item["agent_id"], int(item["payload"]["block"]["number"])) for item in table_of()}
    assert got == {(message.agent_id, message.data["body"]["number"]) for message in during}
    assert receiver.instance.retries >= 3
    assert receiver.instance.written == len(before) + len(during)
    assert receiver.stats.failures == 0
    assert receiver.stats.delivered == len(before) + len(during)


def test_item_values_keep_large_and_fractional_numbers_exactly():
    body = {
        "number": 5123457,
        "hash": "0xab",
        "difficulty": "340282366920938463463374607431768211454",
        "huge": 2**200,
        "ratio": 0.1,
        "tiny": 5e-324,
        "nan": float("nan"),
        "nested": [{"gasUsed": 21000, "ok": True, "none": None}],
    }
    converted = to_dynamodb(body)
    assert converted["number"] == Decimal(5123457)
    assert converted["difficulty"] == body["difficulty"]
    assert converted["huge"] == str(2**200)  # beyond a DynamoDB Number's 38 digits: kept as exact text
    assert converted["ratio"] == Decimal("0.1")
    assert float(converted["ratio"]) == 0.1
    assert converted["tiny"] == "5e-324"
    assert converted["nan"] == "nan"
    assert converted["nested"] == [{"gasUsed": Decimal(21000), "ok": True, "none": None}]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, "table_name"),
        ({"table_name": "x"}, "table_name"),
        ({"table_name": "poa blocks"}, "table_name"),
        ({"table_name": "poa_blocks", "region": 5}, "region"),
        ({"table_name": "poa_blocks", "endpoint_url": "localhost:8000"}, "endpoint_url"),
        ({"table_name": "poa_blocks", "aws_access_key_id": "AKIA"}, "aws_access_key_id and aws_secret"),
        ({"table_name": "poa_blocks", "create_table": "yes"}, "create_table"),
        ({"table_name": "poa_blocks", "retry_max_delay": 0}, "retry_max_delay"),
    ],
)
def test_bad_options_are_field_errors(options, error):
    with pytest.raises(ValidationError) as excinfo:
        DynamoDBBlockReceiver.clean_options(options)
    assert excinfo.value.messages[0].startswith(error)


def test_the_seeded_row_is_valid_and_disabled():
    row = Receiver.objects.get(name="dynamodb_blocks")
    row.full_clean()
    assert not row.enabled
    assert row.options == {"table_name": "poa_blocks", "region": "us-east-1", "create_table": False}
    assert isinstance(row.build(), DynamoDBBlockReceiver)


def test_credentials_from_options_or_the_environment(moto, table_of, monkeypatch):
    """Explicit keys in the options are used; without them the standard AWS chain applies."""
    options = {"table_name": TABLE, "endpoint_url": moto.url, "region": "us-east-1", "create_table": True}
    with_keys = DynamoDBBlockReceiver(
        "with-keys", {**options, **dict.fromkeys(("aws_access_key_id", "aws_secret_access_key"), "k")}
    )
    with_keys.setup()
    assert with_keys.client._request_signer._credentials.access_key == "k"
    from_env = DynamoDBBlockReceiver("from-env", options)
    from_env.setup()
    assert from_env.client._request_signer._credentials.access_key == os.environ["AWS_ACCESS_KEY_ID"]
    from_env.handle_messages([block("node", 7)])
    assert [int(item["payload"]["block"]["number"]) for item in table_of()] == [7]
    from_env.terminate()
    with_keys.terminate()
