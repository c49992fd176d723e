"""Alert rules on a network view, the pending → firing → resolved machine, silences and deliveries.

The view is the network receiver's own (its memory store fed with messages); the
webhook is a real HTTP server; e-mail goes through Django's e-mail backend.
"""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from poa_backend.core.message import Message
from receivers.alerts import delivery, engine
from receivers.alerts.models import AlertDestination, AlertEvent, AlertRule, AlertState, Delivery, Silence
from receivers.alerts.rules import findings
from receivers.network.reports import read
from receivers.network.store import MemoryStore
from receivers.network.view import compute
from tests.alerting_support import Webhook
from tests.network_support import block_body, statistics_body

pytestmark = pytest.mark.django_db


class View:
    """A network view fed with messages, as the network receiver feeds it."""

    def __init__(self):
        self.store = MemoryStore(100, 64)

    def send(self, agent_id, kind, body, data_type="ethereum_metrics", at=None):
        message = Message(agent_id, data_type, {"type": kind, "body": body}, accepted_at=at or time.time())
        self.store.record([read(message)])

    def inactive(self, agent_id):
        self.store.inactive([agent_id], time.time())

    def network(self):
        return compute(self.store.read())


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def rule(name, kind, **fields):
    AlertRule.objects.filter(name__in=["node_down", "node_behind", "chain_stalled"]).update(enabled=False)
    return AlertRule.objects.create(name=name, kind=kind, **fields)


def test_defaults_watch_a_fresh_install():
    assert {(r.name, r.kind, r.threshold, r.for_seconds) for r in AlertRule.objects.all()} == {
        ("node_down", "node_down", None, 60),
        ("node_behind", "node_behind", 10, 60),
        ("chain_stalled", "chain_stalled", 300, 0),
    }


def test_one_flap_shorter_than_for_pages_no_one_and_a_lasting_one_fires_once_then_resolves():
    down = rule("down", "node_down", for_seconds=30, severity="critical")
    AlertDestination.objects.create(name="hook", kind="webhook", url="http://127.0.0.1:9/")
    view = View()
    view.send("n1", "block", block_body(1))
    start = timezone.now()
    view.inactive("n1")
    engine.evaluate(view.network(), start)
    assert AlertState.objects.get(rule=down).state == "pending"
    view.send("n1", "block", block_body(2))  # back within the 30 s
    engine.evaluate(view.network(), start + timedelta(seconds=10))
    assert AlertState.objects.get(rule=down).state == "inactive"
    assert not AlertEvent.objects.exists()

    view.inactive("n1")
    engine.evaluate(view.network(), start + timedelta(seconds=20))
    engine.evaluate(view.network(), start + timedelta(seconds=49))
    assert not AlertEvent.objects.exists()
    engine.evaluate(view.network(), start + timedelta(seconds=50))
    engine.evaluate(view.network(), start + timedelta(seconds=51))  # still firing: no second event
    fired = AlertEvent.objects.get()
    assert (fired.kind, fired.node, fired.network) == ("fired", "n1", "poa")
    assert fired.deliveries.get().destination.name == "hook"

    view.send("n1", "block", block_body(3))
    engine.evaluate(view.network(), start + timedelta(seconds=60))
    resolved = AlertEvent.objects.get(kind="resolved")
    assert resolved.started_at == fired.at
    assert AlertEvent.objects.count() == 2


def test_a_silence_records_the_event_but_delivers_nothing():
    down = rule("down", "node_down", for_seconds=0)
    AlertDestination.objects.create(name="hook", kind="webhook", url="http://127.0.0.1:9/")
    Silence.objects.create(node="n1", ends_at=timezone.now() + timedelta(hours=1), comment="maintenance")
    view = View()
    for node in ("n1", "n2"):
        view.send(node, "block", block_body(1))
        view.inactive(node)
    engine.evaluate(view.network())
    muted, paged = AlertEvent.objects.get(node="n1"), AlertEvent.objects.get(node="n2")
    assert muted.silenced
    assert not muted.deliveries.exists()
    assert not paged.silenced
    assert paged.deliveries.count() == 1
    assert down.states.filter(state="firing").count() == 2


def test_conditions_on_the_view():
    view = View()
    now = time.time()
    view.send("fast", "block", block_body(120, block_hash="0xa"), at=now - 400)
    view.send("slow", "block", block_body(120, block_hash="0xa"), at=now - 398.5)
    view.send("fast", "block", block_body(121, block_hash="0xb"), at=now - 390)
    view.send("slow", "block", block_body(105, block_hash="0xc"), at=now - 389)
    view.send("slow", "statistics", statistics_body(peers=2, syncing={"currentBlock": "0x69"}))
    view.send("fast", "statistics", statistics_body(peers=25))
    view.send("slow", "latency", {"latency": 900}, data_type="networking_metrics")
    network = view.network()

    def holds(kind, **fields):
        return set(findings(AlertRule(name=kind, kind=kind, **fields), network))

    assert holds("node_behind", threshold=10) == {"slow"}
    assert holds("node_behind", threshold=20) == set()
    assert holds("chain_stalled", threshold=300) == {""}
    assert holds("chain_stalled", threshold=600) == set()
    assert holds("peers_below", threshold=3) == {"slow"}
    assert holds("latency_above", threshold=500) == {"slow"}
    assert holds("syncing") == {"slow"}
    assert holds("propagation_slow", threshold=700, blocks=40) == {"slow"}  # (1500 + 0) / 2
    assert holds("propagation_slow", threshold=800, blocks=40) == set()
    assert holds("node_behind", threshold=10, nodes=["fast"]) == set()
    view.inactive("slow")  # a node that is down is only the node-down rule's
    network = view.network()
    assert set(findings(AlertRule(name="x", kind="node_behind", threshold=10), network)) == set()
    assert set(findings(AlertRule(name="x", kind="node_down"), network)) == {"slow"}


def fire_one(kind="webhook", url="", **destination):
    rule("down", "node_down", for_seconds=0, description="a node is down")
    AlertDestination.objects.create(name=kind, kind=kind, url=url, **destination)
    view = View()
    view.send("n1", "block", block_body(1))
    view.inactive("n1")
    engine.evaluate(view.network())
    return view


def test_webhook_delivery_is_retried_with_back_off_and_each_attempt_recorded():
    hook = Webhook(statuses=[500])
    try:
        fire_one(url=hook.url)
        assert delivery.deliver_due() == 1
        pending = Delivery.objects.get()
        assert (pending.status, pending.attempts) == ("pending", 1)
        assert "HTTP 500" in pending.last_error
        assert pending.next_attempt_at > timezone.now()  # backing off: not due yet
        assert delivery.deliver_due() == 0
        Delivery.objects.update(next_attempt_at=timezone.now())  # the back-off has passed
        assert delivery.deliver_due() == 1
        done = Delivery.objects.get()
        assert (done.status, done.attempts) == ("delivered", 2)
        assert [a.ok for a in done.attempt_log.order_by("at")] == [False, True]
        assert [a.status_code for a in done.attempt_log.order_by("at")] == [500, 200]
        (body,) = hook.bodies()
        assert body["event"] == "fired"
        assert body["alert"] == "down"
        assert body["node"] == "n1"
        assert body["network"] == "poa"
    finally:
        hook.stop()


def test_a_destination_out_of_attempts_is_failed():
    fire_one(url="http://127.0.0.1:9/", max_attempts=1)  # nothing listens on the discard port
    delivery.deliver_due()
    failed = Delivery.objects.get()
    assert failed.status == "failed"
    assert failed.last_error


def test_resolved_waits_for_its_fired_delivery_to_the_same_destination(webhook):
    view = fire_one(url=webhook.url)
    view.send("n1", "block", block_body(2))
    engine.evaluate(view.network())
    Delivery.objects.filter(event__kind="fired").update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert delivery.deliver_due() == 0
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert delivery.deliver_due() == 2
    assert [body["event"] for body in webhook.bodies()] == ["fired", "resolved"]


def test_slack_gets_a_text_and_email_goes_through_djangos_backend(webhook):
    view = fire_one(kind="slack", url=webhook.url)
    AlertDestination.objects.create(
        name="mail", kind="email", recipients="ops@example.org, oncall@example.org"
    )
    view.send("n2", "block", block_body(1))
    view.inactive("n2")
    engine.evaluate(view.network())
    delivery.deliver_due()
    assert all(d.status == "delivered" for d in Delivery.objects.all())
    texts = [body["text"] for body in webhook.bodies()]
    assert any(text.startswith("[FIRING] down on n1 (poa)") for text in texts)
    (message,) = mail.outbox
    assert message.subject == "[FIRING] down on n2 (poa)"
    assert message.to == ["ops@example.org", "oncall@example.org"]


@pytest.fixture
def redis_cache(redis_url, redis_prefix, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": redis_prefix,
        }
    }


def test_processes_sharing_redis_take_turns_judging_the_rules(redis_cache, settings):
    from receivers.alerts import loops

    settings.POA_BACKEND = {**settings.POA_BACKEND, "ALERT_EVALUATION_INTERVAL": 1.0}
    assert loops.my_turn()  # the first process to ask this interval
    assert not loops.my_turn()  # every other, within it
    time.sleep(1.1)
    assert loops.my_turn()  # the next interval is anyone's again


def test_under_a_second_every_process_judges_every_interval(redis_cache, settings):
    from receivers.alerts import loops

    settings.POA_BACKEND = {**settings.POA_BACKEND, "ALERT_EVALUATION_INTERVAL": 0.2}
    assert loops.my_turn()
    assert loops.my_turn()
