"""Durable receivers: spooled before the answer, delivered in order from the spool, removed only
once the sink took them; outages waited out, refused messages kept as dead letters."""

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from poa_backend.core.conf import poa_settings
from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from poa_backend.core.models import MetricType
from poa_backend.core.signals import DeliveryRefused
from receivers import spool
from receivers.dispatch import dispatcher
from receivers.models import DeadLetter, Receiver
from tests import spool_support
from tests.delivery_support import own_spools  # noqa: F401
from tests.live import wait_until

pytestmark = pytest.mark.usefixtures("live_db")

SINK = "tests.spool_support.DurableSink"


@pytest.fixture(autouse=True)
def _clean_sinks(settings):
    settings.POA_BACKEND = {
        **settings.POA_BACKEND,
        "RECEIVER_RETRY_INITIAL_DELAY": 0.02,
        "RECEIVER_RETRY_MAX_DELAY": 0.1,
    }
    spool_support.reset()
    yield
    spool_support.reset()


@pytest.fixture
def handler():
    return HandlerPlugin("test-handler", {})


@pytest.fixture
def durable():
    """One durable receiver row alone, subscribed to ethereum_metrics; the dispatcher not started."""
    Receiver.objects.all().delete()
    row = Receiver.objects.create(name="sink", class_path=SINK, options={})
    row.metric_types.set(MetricType.objects.filter(name="ethereum_metrics"))
    yield row
    dispatcher.stop(timeout=5)


def message(agent, n):
    return Message(
        agent_id=agent, data_type="ethereum_metrics", data={"type": "statistics", "body": {}, "n": n}
    )


def stored():
    return list(spool_support.stored["sink"])


def spool_depth():
    """Messages in the sink's spool file, read from the file itself."""
    files = list(Path(poa_settings.SPOOL_DIR).glob("slot-*/sink.sqlite3"))
    return sum(spool.Spool(path, 1 << 30).depth for path in files)


def test_a_spool_keeps_its_entries_across_reopening_and_removes_only_what_was_handled(tmp_path):
    path = tmp_path / "one.sqlite3"
    first = spool.Spool(path, max_bytes=1000)
    for n in range(5):
        first.append(f"entry-{n}".encode())
    head = first.peek(3)
    first.remove(head[:2])  # the first two handled
    first.close()

    again = spool.Spool(path, max_bytes=1000)
    assert [body for _, _, body in again.peek(10)] == [b"entry-2", b"entry-3", b"entry-4"]
    assert again.figures()["depth"] == 3
    assert again.figures()["bytes"] == 3 * len(b"entry-2")


def test_a_spool_is_bounded_in_bytes(tmp_path):
    bounded = spool.Spool(tmp_path / "small.sqlite3", max_bytes=25)
    bounded.append(b"x" * 20)
    with pytest.raises(spool.Full):
        bounded.append(b"x" * 6)
    bounded.append(b"x" * 5)
    assert bounded.depth == 2
    bounded.append(b"inactive event", bounded=False)  # presence events are never refused
    assert bounded.depth == 3


def test_appends_from_many_threads_all_land_in_each_threads_order(tmp_path):
    shared = spool.Spool(tmp_path / "shared.sqlite3", max_bytes=1 << 30)

    def append_run(thread):
        for n in range(300):
            shared.append(f"{thread}:{n}".encode())

    threads = [threading.Thread(target=append_run, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = [body.decode() for _, _, body in shared.peek(10_000)]
    assert len(bodies) == shared.depth == 2400
    for t in range(8):
        assert [int(b.split(":")[1]) for b in bodies if b.startswith(f"{t}:")] == list(range(300))


def test_appends_on_the_event_loop_are_confirmed_only_once_committed(tmp_path):
    path = tmp_path / "loop.sqlite3"
    entries = [f"entry-{n:03}".encode() for n in range(300)]  # more than one statement takes
    looped = spool.Spool(path, max_bytes=sum(map(len, entries)) + 50)

    async def one_turn():
        committed = [looped.append_soon(entry) for entry in entries]
        written_during_the_turn = looped.peek(1000)
        with pytest.raises(spool.Full):  # the bound counts what is still to be written
            looped.append_soon(b"x" * 100)
        await asyncio.gather(*committed)
        return written_during_the_turn

    assert asyncio.run(one_turn()) == []  # nothing is written while the turn runs ...
    # ... and all of it once the futures complete, in order, in the file.
    assert [body for _, _, body in spool.Spool(path, 1 << 20).peek(1000)] == entries


def test_a_loop_append_never_waits_for_a_lock_another_connection_holds(tmp_path):
    path = tmp_path / "held.sqlite3"
    held = spool.Spool(path, max_bytes=1 << 20)
    locked, loop_ran = threading.Event(), threading.Event()
    saw_the_loop_run = []

    def other_process():  # another writer on the file (an operator's shell), until the loop ran
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        saw_the_loop_run.append(loop_ran.wait(10))
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=other_process)
    holder.start()
    locked.wait(5)

    async def one_append():
        committed = held.append_soon(b"entry")
        await asyncio.sleep(0.05)  # the commit's turn has come and gone
        loop_ran.set()  # a loop that waited for the lock gets here only after the holder gave up
        await committed

    asyncio.run(one_append())
    holder.join()
    assert saw_the_loop_run == [True]
    assert [body for _, _, body in held.peek(10)] == [b"entry"]
    assert held.depth == 1


def test_appends_of_a_loop_that_stopped_before_their_turn_are_written_at_close(tmp_path):
    path = tmp_path / "last.sqlite3"
    last = spool.Spool(path, max_bytes=1 << 20)
    loop = asyncio.new_event_loop()

    def last_turn():  # the server stops: the turn that would commit this append never comes
        last.append_soon(b"inactive event")
        loop.stop()

    loop.call_soon(last_turn)
    loop.run_forever()
    loop.close()
    last.close()
    assert [body for _, _, body in spool.Spool(path, 1 << 20).peek(10)] == [b"inactive event"]


def test_a_commit_the_disk_refuses_fails_every_append_in_it_and_counts_none(tmp_path):
    tight = spool.Spool(tmp_path / "tight.sqlite3", max_bytes=1 << 30)
    tight.append(b"first")
    # A database that may not grow is a full disk, as SQLite reports it.
    page_count = tight._writer.execute("PRAGMA page_count").fetchone()[0]
    for writer in (tight._writer, tight._loop_writer):  # the threads' writer and the loop's
        writer.execute(f"PRAGMA max_page_count={page_count}")

    with pytest.raises(sqlite3.OperationalError, match="full"):
        tight.append(b"x" * 20_000)

    async def on_the_loop():
        return await asyncio.gather(
            *(tight.append_soon(b"y" * 5_000) for _ in range(3)), return_exceptions=True
        )

    failures = asyncio.run(on_the_loop())
    assert all(isinstance(failure, sqlite3.OperationalError) for failure in failures)
    assert (tight.depth, tight.bytes) == (1, len(b"first"))
    assert [body for _, _, body in tight.peek(10)] == [b"first"]


def test_the_write_ahead_log_stays_small_while_appends_and_deliveries_go_on(tmp_path):
    path = tmp_path / "busy.sqlite3"
    busy = spool.Spool(path, max_bytes=1 << 30)
    appending = threading.Event()
    appending.set()

    def deliver():
        while appending.is_set() or busy.depth:
            entries = busy.peek(100)
            if entries:
                busy.remove(entries)
            else:
                time.sleep(0.001)

    delivery = threading.Thread(target=deliver)
    delivery.start()
    for _ in range(6000):  # 6,000 commits: about 60 MB of log if it were never checkpointed
        busy.append(b"x" * 500)
    appending.clear()
    delivery.join()
    assert busy.depth == 0
    assert Path(f"{path}-wal").stat().st_size < 20_000_000


def test_the_write_ahead_log_stays_small_while_nothing_is_delivered(tmp_path):
    path = tmp_path / "undelivered.sqlite3"
    waiting = spool.Spool(path, max_bytes=1 << 30)
    for _ in range(6000):  # the sink is away: no delivery, so no checkpoint by the delivery thread
        waiting.append(b"x" * 500)
    assert waiting.depth == 6000
    assert Path(f"{path}-wal").stat().st_size < 20_000_000


def test_messages_are_in_the_spool_before_send_returns_and_wait_out_an_outage(durable, handler):
    spool_support.away.add("sink")
    dispatcher.start()
    for n in range(50):
        handler.send_to_receivers(message("a", n))
    # The sink is away: everything waits in the spool file, nothing is lost.
    assert spool_depth() == 50
    assert wait_until(lambda: spool_support.calls["sink"] >= 3)
    assert stored() == []
    running = dispatcher.get("sink")
    assert running.stats.retries >= 2
    assert running.figures()["depth"] == 50
    assert running.figures()["oldest_seconds"] > 0

    spool_support.away.discard("sink")
    assert wait_until(lambda: len(stored()) == 50)
    assert stored() == [("a", n) for n in range(50)]
    assert wait_until(lambda: spool_depth() == 0)
    assert DeadLetter.objects.count() == 0


def test_sends_from_the_event_loop_are_in_the_spool_when_they_return_or_refused(durable, handler, settings):
    settings.POA_BACKEND = {**settings.POA_BACKEND, "SPOOL_MAX_BYTES": 4000}
    spool_support.away.add("sink")
    dispatcher.start()
    accepted = {"a": 0, "b": 0}

    async def agent_run(agent):
        for n in range(1000):
            try:
                await handler.asend_to_receivers(message(agent, n))
            except DeliveryRefused:
                return
            accepted[agent] += 1
            assert spool_depth() >= sum(accepted.values())  # committed before the send returned

    async def two_agents():
        await asyncio.gather(agent_run("a"), agent_run("b"))

    asyncio.run(two_agents())
    assert 0 < sum(accepted.values()) < 2000  # the spool filled, then both were refused
    spool_support.away.discard("sink")
    assert wait_until(lambda: len(stored()) == sum(accepted.values()))
    for agent in "ab":
        assert [n for who, n in stored() if who == agent] == list(range(accepted[agent]))


def test_a_stop_during_an_outage_leaves_the_messages_for_the_next_start(durable, handler):
    spool_support.away.add("sink")
    dispatcher.start()
    for n in range(20):
        handler.send_to_receivers(message("a", n))
    started = time.monotonic()
    dispatcher.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert spool_depth() == 20

    spool_support.away.discard("sink")
    dispatcher.start()
    assert wait_until(lambda: len(stored()) == 20)
    assert stored() == [("a", n) for n in range(20)]


def test_a_message_the_sink_refuses_becomes_a_dead_letter_and_delivery_goes_on(
    durable, handler, admin_client
):
    spool_support.refused_agents.add("bad")
    dispatcher.start()
    for n in range(10):
        handler.send_to_receivers(message("bad" if n == 4 else "good", n))
    assert wait_until(lambda: len(stored()) == 9)
    assert stored() == [("good", n) for n in range(10) if n != 4]
    letter = DeadLetter.objects.get()
    assert (letter.receiver, letter.agent_id, letter.message["data"]["n"]) == ("sink", "bad", 4)
    assert "IntegrityError: the sink refuses this row" in letter.error
    assert dispatcher.get("sink").stats.dead_letters == 1

    # The receiver's delivery figures in the admin's list.
    receivers_page = admin_client.get("/admin/receivers/receiver/")
    assert receivers_page.status_code == 200
    assert b"dead_letters 1" in receivers_page.content
    # Listed in the admin, with its error; "replay" hands it to the receiver again.
    listing = admin_client.get("/admin/receivers/deadletter/")
    assert listing.status_code == 200
    assert b"the sink refuses this row" in listing.content
    spool_support.refused_agents.clear()
    answer = admin_client.post(
        "/admin/receivers/deadletter/",
        {"action": "replay", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert b"1 dead letters replayed" in answer.content
    assert wait_until(lambda: len(stored()) == 10)
    assert stored()[-1] == ("bad", 4)
    assert DeadLetter.objects.count() == 0


def test_a_full_spool_refuses_the_message_at_the_handler(durable, handler, settings):
    settings.POA_BACKEND = {**settings.POA_BACKEND, "SPOOL_MAX_BYTES": 2000}
    spool_support.away.add("sink")
    dispatcher.start()
    accepted, refusal = 0, None
    for n in range(1000):
        try:
            handler.send_to_receivers(message("a", n))
        except DeliveryRefused as exc:
            refusal = exc
            break
        accepted += 1
    assert refusal is not None
    assert refusal.receiver == "sink"
    assert 0 < accepted < 1000
    running = dispatcher.get("sink")
    assert running.stats.refused == 1
    spool_support.away.discard("sink")
    assert wait_until(lambda: len(stored()) == accepted)
    assert stored() == [("a", n) for n in range(accepted)]  # every accepted one, none refused


def test_a_memory_queue_fed_from_many_threads_gives_each_threads_items_in_order(tmp_path):
    queue = spool.MemoryQueue(maxsize=100_000)
    got = []
    done = threading.Event()

    def consume():
        while not done.is_set() or queue.qsize():
            entries = queue.peek(50)
            if not entries:
                queue.ready.wait(0.01)
                queue.ready.clear()
                continue
            got.extend(item for _, _, item in entries)
            queue.remove(entries)

    def produce(thread):
        for n in range(2000):
            queue.append((thread, n))

    consumer = threading.Thread(target=consume)
    consumer.start()
    producers = [threading.Thread(target=produce, args=(t,)) for t in range(6)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    done.set()
    consumer.join(10)
    assert len(got) == 12_000
    for t in range(6):
        assert [n for thread, n in got if thread == t] == list(range(2000))
    small = spool.MemoryQueue(maxsize=2)
    small.append(1)
    small.append(2)
    with pytest.raises(spool.Full):
        small.append(3)
