"""Nothing answered success is lost: 20 agents (REST and agent socket) under steady load against
``runbackend --workers 2`` while PostgreSQL or Redis is stopped for 20 s, DynamoDB unreachable
for 20 s (its port closed: moto keeps nothing across a restart), and through SIGTERM and kill -9
with restarts. Each test counts the reports answered success against the rows
(or items) stored after recovery: none missing, none twice.

The services are the test's own (a throwaway PostgreSQL cluster, Redis and moto server on free
ports); the tests use no test database, so they run once, in the suite's first pass.
"""

import signal
import time

import boto3
import pytest

from handlers.auth.tokens import issue_token
from tests.fault_support import READY, FaultRig, Load, MotoServer, PortGate, missing_and_duplicated
from tests.live import free_port, read_events, wait_until

OUTAGE = 20.0
#: Seconds of steady load before a fault and after the recovery.
BEFORE, AFTER = 3.0, 8.0


@pytest.fixture(scope="module")
def rig():
    rig = FaultRig()
    yield rig
    rig.close()


@pytest.fixture(autouse=True)
def _stop_backend(rig):
    """Whatever a test asserts, its backend is stopped before the next one starts."""
    yield
    rig.backend.stop()


@pytest.fixture
def moto(tmp_path, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = MotoServer(free_port(), tmp_path / "moto.log").start()
    yield server
    server.stop()


def start(rig, kind="statistics", dynamodb_url=""):
    rig.prepare(dynamodb_url)
    rig.start()
    token = issue_token("fault-agent")
    socket_url = rig.backend.url("agent_socket").replace("http://", "ws://") + "/agent"
    return Load(rig.backend.url("rest"), socket_url, token, kind=kind).start()


def assert_every_answered_report_stored_once(rig, load):
    sent = load.sent()
    assert len(sent) > 500, load.answers
    assert wait_until(lambda: not missing_and_duplicated(sent, rig.rows())[0], timeout=60)
    missing, duplicated = missing_and_duplicated(sent, rig.rows())
    assert (len(missing), duplicated) == (0, {})
    print(f"answers: {dict(load.answers)}; stored {len(rig.rows())} rows for {len(sent)} answered")


def assert_no_server_error(load):
    errors = {answer: count for answer, count in load.answers.items() if " 5" in str(answer)}
    assert errors == {}, load.answers


def test_postgresql_stopped_for_20s(rig):
    load = start(rig)
    try:
        time.sleep(BEFORE)
        rig.pg.stop()
        time.sleep(OUTAGE)
        rig.pg.start()
        time.sleep(AFTER)
    finally:
        load.stop()
    assert_no_server_error(load)
    assert_every_answered_report_stored_once(rig, load)
    rig.backend.stop()


def test_redis_stopped_for_20s_no_agent_that_kept_pinging_goes_inactive(rig):
    load = start(rig)
    try:
        time.sleep(BEFORE)
        rig.redis.stop()
        time.sleep(OUTAGE)
        rig.redis.start()
        time.sleep(AFTER)  # longer than the inactivity timeout: a burst would show by now
        inactive = [event for event in read_events(rig.events_path) if event["event"] == "inactive"]
    finally:
        load.stop()
    assert inactive == []
    assert_no_server_error(load)
    assert_every_answered_report_stored_once(rig, load)
    rig.backend.stop()


def test_dynamodb_unreachable_for_20s(rig, moto):
    """moto keeps nothing across a restart, so the outage is its port closed (connections
    refused and cut, as a stopped server's), with moto's data kept behind it."""
    gate = PortGate(moto.port).open()
    load = start(rig, kind="block", dynamodb_url=gate.url)
    try:
        time.sleep(BEFORE)
        gate.close()
        time.sleep(OUTAGE)
        gate.open()
        time.sleep(AFTER)
    finally:
        load.stop()
    assert_no_server_error(load)
    sent = load.sent()
    assert len(sent) > 500, load.answers

    def items():
        table = boto3.resource("dynamodb", endpoint_url=moto.url, region_name="us-east-1").Table("poa_blocks")
        found, kwargs = [], {}
        while True:
            page = table.scan(**kwargs)
            found += [(item["agent_id"], int(item["payload"]["block"]["number"])) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    assert wait_until(lambda: not missing_and_duplicated(sent, items())[0], timeout=60)
    missing, duplicated = missing_and_duplicated(sent, items())
    assert (len(missing), duplicated) == (0, {})
    gate.close()


def test_a_process_that_never_took_a_report_takes_one_while_postgresql_is_away(rig):
    """The metric types are read when the process starts, not by its first report: a process
    whose first report comes during an outage spools it (here: 200), never a 500."""
    from tests.agent_client import call

    rig.prepare()
    rig.backend.start()
    assert wait_until(lambda: READY in rig.backend.log, timeout=60), rig.backend.log
    token = issue_token("fault-agent")
    url = rig.backend.url("rest")
    assert call(url, "/ping", {"id": "fault-first"}, "json", token).status == 200  # the token checked
    rig.pg.stop()
    try:
        report = Load(url, "", token).body("fault-first", 1)
        reply = call(url, "/data", report, "json", token)
    finally:
        rig.pg.start()
    assert (reply.status, reply.json()) == (200, {"result": "success"})
    assert wait_until(lambda: ("fault-first", 1) in rig.rows(), timeout=30)


def test_sigterm_while_postgresql_is_away_then_restart(rig):
    load = start(rig)
    try:
        time.sleep(BEFORE)
        rig.pg.stop()
        time.sleep(5)  # reports accepted into the spools, none can be stored
        assert rig.backend.stop() == 0
        rig.pg.start()
        rig.start()  # the same data directory: the spools are delivered
        time.sleep(AFTER)
    finally:
        load.stop()
    assert_no_server_error(load)
    assert_every_answered_report_stored_once(rig, load)
    rig.backend.stop()


def test_kill_9_of_a_worker_then_of_the_parent_and_its_workers_then_restart(rig):
    load = start(rig)
    try:
        time.sleep(BEFORE)
        rig.pg.stop()  # so the spools hold what the kills must not lose
        time.sleep(3)
        worker = rig.worker_pids()[0]
        logged = len(rig.backend.log)
        os_kill(worker)
        assert wait_until(lambda: len(rig.worker_pids()) == 2 and worker not in rig.worker_pids(), timeout=15)
        time.sleep(3)
        rig.pg.start()
        # The replacement serves once it has read the configuration (its READY). A process that
        # never checked the token answers 503 while the database is away, so it gets two
        # seconds of calls to check it before the next outage, however long its start took
        # (on a busy machine, longer than the two seconds this once waited in all).
        assert wait_until(lambda: READY in rig.backend.log[logged:], timeout=60), rig.backend.log
        time.sleep(2)
        rig.pg.stop()
        time.sleep(3)
        for pid in [rig.backend.process.pid, *rig.worker_pids()]:
            os_kill(pid)
        rig.backend.process.wait(10)
        rig.pg.start()
        rig.start()
        time.sleep(AFTER)
    finally:
        load.stop()
    assert_no_server_error(load)
    assert_every_answered_report_stored_once(rig, load)
    rig.backend.stop()


def os_kill(pid):
    import os

    os.kill(pid, signal.SIGKILL)
