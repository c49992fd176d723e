"""Dispatch through the signals: subscriptions, order, isolation, admin edits without restart."""

import threading
import time

import pytest

from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from poa_backend.core.models import MetricType
from receivers.dispatch import dispatcher
from receivers.models import Receiver
from tests.delivery_support import own_spools  # noqa: F401
from tests.live import wait_until
from tests.plugins import SinkAwayReceiver, recorded

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def handler():
    return HandlerPlugin("test-handler", {})


@pytest.fixture
def running():
    Receiver.objects.all().delete()  # only the receivers a test adds
    dispatcher.start()
    yield dispatcher
    dispatcher.stop(timeout=5)


def add_receiver(name, class_path="tests.plugins.RecordingReceiver", metric_types=(), **options):
    row = Receiver.objects.create(name=name, class_path=class_path, options=options)
    row.metric_types.set(MetricType.objects.filter(name__in=metric_types))
    return row


def messages_of(name):
    return [value for event, value in recorded[name] if event == "message"]


def sample(agent, kind, n, data_type="ethereum_metrics"):
    return Message(agent_id=agent, data_type=data_type, data={"type": kind, "body": {"n": n}})


def test_receiver_gets_exactly_its_subscribed_types_in_order_per_agent(running, handler):
    add_receiver("ethereum-only", metric_types=["ethereum_metrics"])
    add_receiver("everything", metric_types=["ethereum_metrics", "networking_metrics", "system_metrics"])
    running.reload()
    sent = []
    for n in range(300):
        for agent in ("a", "b"):
            for data_type in ("ethereum_metrics", "networking_metrics", "system_metrics"):
                message = sample(agent, "statistics", n, data_type)
                sent.append(message)
                handler.send_to_receivers(message)

    assert wait_until(lambda: len(messages_of("everything")) == len(sent))
    assert wait_until(lambda: len(messages_of("ethereum-only")) == len(sent) // 3)
    eth = messages_of("ethereum-only")
    assert {m["data_type"] for m in eth} == {"ethereum_metrics"}
    for agent in ("a", "b"):
        got = [m["data"]["body"]["n"] for m in eth if m["agent_id"] == agent]
        assert got == list(range(300))
        everything = [
            (m["data_type"], m["data"]["body"]["n"])
            for m in messages_of("everything")
            if m["agent_id"] == agent
        ]
        assert everything == [(m.data_type, m.data["body"]["n"]) for m in sent if m.agent_id == agent]


def test_inactive_and_out_of_band_reach_every_running_receiver_in_order(running, handler):
    add_receiver("one", metric_types=["ethereum_metrics"])
    add_receiver("two", metric_types=["system_metrics"])
    running.reload()
    handler.send_to_receivers(sample("a", "block", 1))
    handler.ping("a")
    handler.publish_inactive("a")
    from poa_backend.core.signals import out_of_band_message

    out_of_band_message.send(sender=None, payload={"hello": 1}, receiver="two")
    assert wait_until(lambda: len(recorded["two"]) == 2)
    assert wait_until(lambda: len(recorded["one"]) == 2)
    assert [event for event, _ in recorded["one"]] == ["message", "inactive"]
    assert recorded["two"] == [("inactive", "a"), ("out_of_band", {"hello": 1})]


def test_agents_going_inactive_together_reach_a_receiver_in_one_call_in_order(running, handler):
    """Nodes dropping at once are one ``handle_inactive_agents`` call per run between messages; a
    run the receiver refuses is handed over one agent at a time, so only the bad one is lost;
    a receiver that only has ``handle_inactive`` still hears of each agent."""
    add_receiver(
        "runs", class_path="tests.plugins.InactiveRunsReceiver", metric_types=["ethereum_metrics"], linger=2
    )
    add_receiver("single", metric_types=["ethereum_metrics"], linger=2)
    running.reload()
    handler.send_to_receivers(sample("warm-up", "block", 0))  # the next batch now lingers 2 s
    assert wait_until(lambda: len(recorded["runs"]) == 1 and len(recorded["single"]) == 1)

    def gone(*agents):
        for agent in agents:
            handler.ping(agent)
            handler.publish_inactive(agent)

    gone("b", "c", "d")
    handler.send_to_receivers(sample("e", "block", 1))
    gone("f", "poison", "g")
    assert wait_until(lambda: len(recorded["runs"]) == 5)
    assert wait_until(lambda: len(recorded["single"]) == 8)
    runs = [(event, value["agent_id"] if event == "message" else value) for event, value in recorded["runs"]]
    assert runs == [
        ("message", "warm-up"),
        ("inactive_agents", ["b", "c", "d"]),
        ("message", "e"),
        ("inactive_agents", ["f"]),
        ("inactive_agents", ["g"]),
    ]
    assert "refuses the poison agent" in running.get("runs").stats.last_error
    single = [value for event, value in recorded["single"] if event == "inactive"]
    assert single == ["b", "c", "d", "f", "poison", "g"]


def test_a_raising_receiver_is_counted_and_does_not_stop_a_healthy_one(running, handler):
    add_receiver("healthy", metric_types=["ethereum_metrics"])
    add_receiver("broken", class_path="tests.plugins.RaisingReceiver", metric_types=["ethereum_metrics"])
    running.reload()
    for n in range(50):
        handler.send_to_receivers(sample("a", "block", n))
    assert wait_until(lambda: len(messages_of("healthy")) == 50)
    assert wait_until(lambda: running.get("broken").stats.failures == 50)
    assert "RuntimeError" in running.get("broken").stats.last_error
    assert running.get("healthy").stats.delivered == 50


def test_a_sink_that_is_away_costs_a_batch_one_call_and_no_traceback(running, handler, caplog):
    """A transient failure is the sink, not a message: the batch is not retried one message at a
    time (each call another failure and a logged traceback, for every message of an outage)."""
    SinkAwayReceiver.calls = 0
    add_receiver(
        "away", class_path="tests.plugins.SinkAwayReceiver", metric_types=["ethereum_metrics"], linger=5
    )
    running.reload()
    for n in range(50):
        handler.send_to_receivers(sample("a", "block", n))
    stats = running.get("away").stats
    # The worker counts a batch's failures, then the batch: wait for both.
    assert wait_until(lambda: stats.failures == 50 and SinkAwayReceiver.calls == stats.batches)
    assert stats.batches < 50
    assert "Traceback" not in caplog.text
    assert "the sink is away" in stats.last_error


def test_a_slow_receiver_does_not_delay_send_to_receivers(running, handler):
    add_receiver(
        "slow", class_path="tests.plugins.SlowReceiver", metric_types=["ethereum_metrics"], batch_size=10
    )
    add_receiver("fast", metric_types=["ethereum_metrics"])
    running.reload()
    started = time.perf_counter()
    for n in range(100):
        handler.send_to_receivers(sample("a", "block", n))
    elapsed = time.perf_counter() - started
    # 100 sends to a receiver sleeping 1 s per 10-message batch would take 10 s if they waited.
    assert elapsed < 0.5
    assert wait_until(lambda: len(messages_of("fast")) == 100)
    assert len(messages_of("slow")) < 100


def test_a_full_queue_is_counted_and_logged(running, handler, caplog):
    add_receiver(
        "tiny",
        class_path="tests.plugins.SlowReceiver",
        metric_types=["ethereum_metrics"],
        queue_size=5,
        batch_size=1,
    )
    running.reload()
    for n in range(20):
        handler.send_to_receivers(sample("a", "block", n))
    stats = running.get("tiny").stats
    assert stats.dropped >= 13
    assert "queue full" in caplog.text


def test_a_lingering_receiver_takes_fewer_larger_batches(running, handler):
    add_receiver("lingering", metric_types=["ethereum_metrics"], linger=0.5)
    add_receiver("eager", metric_types=["ethereum_metrics"])
    running.reload()
    for n in range(50):
        handler.send_to_receivers(sample("a", "block", n))
        time.sleep(0.01)
    assert wait_until(lambda: len(messages_of("lingering")) == 50)
    assert [m["data"]["body"]["n"] for m in messages_of("lingering")] == list(range(50))
    assert running.get("lingering").stats.batches <= 3  # half a second of messages per batch
    assert running.get("eager").stats.batches > 10


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"queue_size": 0}, "queue_size: must be a positive integer"),
        ({"batch_size": "10"}, "batch_size: must be a positive integer"),
        ({"linger": -1}, "linger: must be a number of seconds"),
        ({"linger": True}, "linger: must be a number of seconds"),
    ],
)
def test_queue_options_are_checked(options, text):
    from django.core.exceptions import ValidationError

    from tests.plugins import RecordingReceiver

    with pytest.raises(ValidationError, match=text):
        RecordingReceiver.clean_options(options)


def test_lingering_never_holds_back_a_full_batch(running, handler):
    add_receiver("lingering", metric_types=["ethereum_metrics"], linger=30, batch_size=10)
    running.reload()
    handler.send_to_receivers(sample("a", "block", 0))
    assert wait_until(lambda: len(messages_of("lingering")) == 1)  # the first batch waits for nothing
    for n in range(1, 6):
        handler.send_to_receivers(sample("a", "block", n))
    time.sleep(0.3)  # the receiver lingers on a batch of five, up to thirty seconds
    for n in range(6, 11):
        handler.send_to_receivers(sample("a", "block", n))
    # The batch is full now: it goes at once, not when the linger runs out.
    assert wait_until(lambda: len(messages_of("lingering")) == 11, timeout=10)
    assert [m["data"]["body"]["n"] for m in messages_of("lingering")] == list(range(11))


class CountingEvent(threading.Event):
    """A queue's ``ready`` that counts the wake-ups appends give its worker."""

    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


def test_appends_below_the_batch_size_let_a_lingering_receiver_sleep(running, handler):
    add_receiver("lingering", metric_types=["ethereum_metrics"], linger=30, batch_size=10)
    running.reload()
    handler.send_to_receivers(sample("a", "block", 0))
    assert wait_until(lambda: len(messages_of("lingering")) == 1)  # the next batch lingers
    queue = running.get("lingering").queue
    queue.ready = wakeups = CountingEvent()
    handler.send_to_receivers(sample("a", "block", 1))  # wakes the idle worker, which lingers
    assert wait_until(lambda: not wakeups.is_set())  # the worker took it, and waits on it now
    for n in range(2, 10):
        time.sleep(0.05)  # time for a woken worker to wait again
        handler.send_to_receivers(sample("a", "block", n))
    # One wake-up for the first append (two if the second came before the worker lingered),
    # none for the others: each wake-up would take the interpreter from the event loop.
    assert wakeups.sets <= 2
    handler.send_to_receivers(sample("a", "block", 10))  # the batch is full: it goes at once
    assert wait_until(lambda: len(messages_of("lingering")) == 11, timeout=10)
    assert [m["data"]["body"]["n"] for m in messages_of("lingering")] == list(range(11))
