"""``runbackend --workers 2``: the workers take turns judging the rules, both try the
deliveries, and each transition is notified exactly once (a real webhook counts what it got).

The run gets a PostgreSQL database of its own (whichever database the suite runs on) and the
real Redis, through the benchmark's server control, like tests/test_workers.py. Its webhook
destination is seeded from ``POA_ALERT_WEBHOOK_URL`` at install, as on a fresh install.
"""

import threading

import psycopg
import pytest

from bench.backend import POSTGRES_URL, Backend
from tests.alerting_support import Webhook
from tests.conftest import REQUIRE_SERVICES
from tests.live import wait_until
from tests.network_support import Agent

SETTLE = 3.0  # evaluation and delivery intervals in which a duplicate would have been sent


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture
def two_workers(redis_url, webhook):
    try:
        psycopg.connect(f"{POSTGRES_URL}/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not running")
    backend = Backend(workers=2)
    backend.env.update(POA_ALERT_WEBHOOK_URL=webhook.url, POA_INACTIVITY_TIMEOUT="1.5")
    try:
        backend.prepare(agents=1)
        with psycopg.connect(f"{POSTGRES_URL}/{backend.database}", autocommit=True) as connection:
            connection.execute("UPDATE alerts_alertrule SET for_seconds = 1 WHERE name = 'node_down'")
            kinds = connection.execute("SELECT kind, url FROM alerts_alertdestination").fetchall()
        assert kinds == [("webhook", webhook.url)]
        backend.start()
        yield backend
    finally:
        backend.cleanup()


def delivered(backend):
    with psycopg.connect(f"{POSTGRES_URL}/{backend.database}") as connection:
        return connection.execute(
            "SELECT e.kind, d.status, d.attempts FROM alerts_delivery d"
            " JOIN alerts_alertevent e ON e.id = d.event_id ORDER BY e.id"
        ).fetchall()


def keep_alive(agent, stopping):
    number = 500
    while not stopping.is_set():
        agent.ping()
        number += 1
        agent.block(number)
        stopping.wait(0.3)


def test_two_workers_notify_each_transition_once(two_workers, webhook):
    _, _, token = two_workers.credentials[0]
    agent = Agent("validator-2w", token, two_workers.url("rest"))  # each call on a new connection
    stopping = threading.Event()
    thread = threading.Thread(target=keep_alive, args=(agent, stopping), daemon=True)
    thread.start()
    stopping.wait(2.0)
    stopping.set()
    thread.join(5)

    assert wait_until(lambda: [b["event"] for b in webhook.bodies()] == ["fired"], timeout=20), (
        webhook.bodies(),
        two_workers.log_tail(),
    )
    stopping = threading.Event()
    thread = threading.Thread(target=keep_alive, args=(agent, stopping), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: len(webhook.bodies()) >= 2, timeout=20), webhook.bodies()
        assert wait_until(lambda: all(status == "delivered" for _, status, _ in delivered(two_workers)), 10)
        stopping.wait(SETTLE)
    finally:
        stopping.set()
        thread.join(5)
    bodies = webhook.bodies()
    assert [(b["event"], b["alert"], b["node"]) for b in bodies] == [
        ("fired", "node_down", "validator-2w"),
        ("resolved", "node_down", "validator-2w"),
    ]
    assert delivered(two_workers) == [("fired", "delivered", 1), ("resolved", "delivered", 1)]
