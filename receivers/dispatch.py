"""Delivery: every accepted message to every enabled receiver subscribed to its metric type.

The signal handlers below put the message on each subscriber's queue and return,
so agents never wait on receivers. A receiver that is not durable (the live feed)
has a bounded queue in memory: when it is full the message is counted and dropped
for that receiver. A durable receiver (statistics storage, DynamoDB) has a spool on
disk (``receivers.spool``): the message is committed there before the handler
answers, and a full spool refuses the message (``DeliveryRefused``) so the handler
tells the agent to send it again rather than answering success for a message that
would be lost.

Each receiver's worker thread takes runs off the head of its queue in order (per
agent, the order the agent sent) and removes them only once handled. For a durable
receiver a transient failure (the sink is away) is retried with capped exponential
back-off and jitter while the spool grows; a message the sink refuses goes to the
dead letters (``DeadLetter`` rows, replayable from the admin) and delivery goes on.
A supervisor thread re-reads the Receiver rows every ``CONFIG_REFRESH_INTERVAL``,
so admin edits apply without a restart.
"""

import asyncio
import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import msgpack
from django.db import close_old_connections, connections

from poa_backend.core import metrics
from poa_backend.core import receiver as base
from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from poa_backend.core.message import Message
from poa_backend.core.signals import DeliveryRefused
from receivers import delivery_metrics, spool
from receivers.received_time import AcceptanceClock

logger = logging.getLogger(__name__)

#: Longest sleep of an idle worker between two looks at its queue (appends wake it at once).
IDLE_WAIT = 1.0
#: Longest text of an error kept with a dead letter.
ERROR_MAX_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Inactive:
    agent_id: str


@dataclass(frozen=True, slots=True)
class OutOfBand:
    payload: Any


Event = Message | Inactive | OutOfBand


def encode(event: Event) -> bytes:
    """The spooled form of an event: MessagePack (a message's data is JSON-safe by the intake
    check; a handler's ``assigns`` that MessagePack cannot carry become their text)."""
    if isinstance(event, Message):
        value: dict[str, Any] = {"message": message_fields(event)}
    elif isinstance(event, Inactive):
        value = {"inactive": event.agent_id}
    else:
        value = {"out_of_band": event.payload}
    return msgpack.packb(value, use_bin_type=True, default=str)


def decode(body: bytes) -> Event:
    value = msgpack.unpackb(body, raw=False, strict_map_key=False)
    if "message" in value:
        return Message(**value["message"])
    if "inactive" in value:
        return Inactive(value["inactive"])
    return OutOfBand(value["out_of_band"])


def message_fields(message: Message) -> dict[str, Any]:
    return {
        "agent_id": message.agent_id,
        "data_type": message.data_type,
        "data": message.data,
        "message_type": message.message_type,
        "accepted_at": message.accepted_at,
        "assigns": message.assigns,
    }


@dataclass
class ReceiverStats:
    delivered: int = 0
    failures: int = 0
    dropped: int = 0
    refused: int = 0
    retries: int = 0
    dead_letters: int = 0
    batches: int = 0
    last_error: str = ""
    last_error_at: float | None = None
    _last_log: dict[str, float] = field(default_factory=dict, repr=False)


class RunningReceiver:
    """A receiver instance with its queue (a spool when durable) and the worker thread that drains it."""

    def __init__(
        self,
        name: str,
        signature: tuple,
        instance: base.ReceiverPlugin,
        queue: spool.MemoryQueue | spool.Spool | None = None,
        predecessor: "RunningReceiver | None" = None,
    ) -> None:
        self.name = name
        self.signature = signature
        self.instance = instance
        self.durable = instance.is_durable
        self.kinds = instance.kinds
        self.stats = ReceiverStats()
        options = instance.options
        self.batch_size = int(
            options.get("batch_size") or instance.batch_size or poa_settings.RECEIVER_BATCH_SIZE
        )
        self.queue = queue or spool.MemoryQueue(
            int(options.get("queue_size") or instance.queue_size or poa_settings.RECEIVER_QUEUE_SIZE)
        )
        self.linger = float(options.get("linger", instance.linger))
        #: The instance this one replaces on the same spool: it must be done before this one reads.
        self.predecessor = predecessor
        self._next_batch_at = 0.0
        self._stop_requested = threading.Event()
        self._abandon = threading.Event()
        self._ready = False
        self.thread = threading.Thread(target=self._run, name=f"receiver-{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def offer(self, item: Event) -> None:
        """Queue an item without blocking; a full memory queue is counted and logged, never silent.

        A durable receiver's spool takes it from the event loop with the loop turn's other
        appends (so it keeps its place behind them, and the loop never waits for a commit
        under way on the committer thread), else at once."""
        try:
            if not self.durable:
                self.queue.append(item)
            elif _on_event_loop():  # presence and out-of-band events are few and small: never refused
                self.queue.append_soon(encode(item), bounded=False).add_done_callback(self._unwritten)
            else:
                self.queue.append(encode(item), bounded=False)
        except (spool.Full, sqlite3.Error):
            self._drop()

    def _unwritten(self, written: "asyncio.Future[None]") -> None:
        if written.cancelled() or written.exception() is not None:
            self._drop()

    def _drop(self) -> None:
        self.stats.dropped += 1
        metrics.event_dropped(self.name)
        self._log_now_and_then(
            "full", "receiver %s: queue full, dropped %d so far", self.name, self.stats.dropped
        )

    def spool(self, body: bytes) -> None:
        """Commit an encoded message to this durable receiver's spool; ``DeliveryRefused`` when full."""
        try:
            self.queue.append(body)
        except spool.Full:
            self._refuse("spool full")
        except sqlite3.Error as exc:  # the disk is full or failing: refuse, never answer success
            self._refuse(f"spool not written: {exc}")

    def spool_soon(self, body: bytes) -> Awaitable[None]:
        """``spool`` from the event loop: the awaitable completes once the message is committed
        (with this turn of the loop's other messages), or raises ``DeliveryRefused``."""
        try:
            committed = self.queue.append_soon(body)
        except spool.Full:
            self._refuse("spool full")
        return self._confirm(committed)

    async def _confirm(self, committed: Awaitable[None]) -> None:
        try:
            await committed
        except sqlite3.Error as exc:
            self._refuse(f"spool not written: {exc}")

    def _refuse(self, reason: str) -> NoReturn:
        self.stats.refused += 1
        delivery_metrics.REFUSED.labels(receiver=self.name).inc()
        self._log_now_and_then(
            "refused", "receiver %s: %s, refused %d messages so far", self.name, reason, self.stats.refused
        )
        raise DeliveryRefused(self.name)

    def has_room(self, size: int) -> bool:
        queue = self.queue
        return not isinstance(queue, spool.Spool) or queue.bytes + size <= queue.max_bytes

    def figures(self) -> dict[str, float]:
        """Delivery figures for operators: queue depth (and bytes), oldest age, retries, dead letters."""
        return {
            **self.queue.figures(),
            "retries": self.stats.retries,
            "dead_letters": self.stats.dead_letters,
            "refused": self.stats.refused,
            "dropped": self.stats.dropped,
        }

    def request_stop(self) -> None:
        """Let the worker drain its queue, then terminate."""
        self._stop_requested.set()
        self.queue.ready.set()

    def retire(self) -> None:
        """Replaced or disabled. A memory queue is drained without waiting out outages; a spool is
        left as it is (the successor, or the row's next enabling, delivers it)."""
        if self.durable:
            self.abandon()
            return
        self.instance.stopping.set()
        self.request_stop()

    def abandon(self) -> None:
        """Stop after the current call; what is still queued stays (in the spool, if durable)."""
        self._abandon.set()
        self.instance.stopping.set()
        self.request_stop()

    # The worker thread.

    def _run(self) -> None:
        try:
            if self.predecessor is not None:
                self.predecessor.thread.join()  # one reader per spool
                self.predecessor = None
            while not self._abandon.is_set():
                self.queue.ready.clear()
                # The depth decides whether to linger; the head is read once, when the batch goes
                # (reading a spool's head is a query, with every body in it).
                queued = self.queue.qsize()
                if queued and queued < self.batch_size and not self._stop_requested.is_set():
                    if not self._linger():
                        return
                entries = self.queue.peek(self.batch_size) if queued else []
                if not entries:  # nothing queued, or appends counted but not yet committed
                    if self._stop_requested.is_set():
                        return  # what is still to be committed is the spool's, at its close
                    self.queue.ready.wait(IDLE_WAIT)
                    continue
                self._next_batch_at = time.monotonic() + self.linger
                done = self._deliver(entries)
                if done:
                    self.queue.remove(entries[:done])
                if done < len(entries):
                    return
        finally:
            self._call("terminate", self.instance.terminate)
            connections.close_all()  # this thread's persistent connections end with it

    def _linger(self) -> bool:
        """Wait, up to ``linger`` after the last batch, until a full batch is queued: a batch
        that fills sooner goes at once. False when the receiver was abandoned meanwhile."""
        self.queue.wake_at = self.batch_size  # appends before the batch is full let it sleep
        try:
            while not self._stop_requested.is_set():
                remaining = self._next_batch_at - time.monotonic()
                if remaining <= 0:
                    break
                self.queue.ready.clear()  # before the count, so an append after it wakes the wait
                if self.queue.qsize() >= self.batch_size:
                    break
                self.queue.ready.wait(remaining)
        finally:
            self.queue.wake_at = 1
        return not self._abandon.is_set()

    def _deliver(self, entries: list) -> int:
        """Hand a run of queued entries to the hooks; returns how many were handled (all of them,
        unless the receiver was stopped while waiting out an outage)."""
        close_old_connections()
        try:
            self._set_up()
        except base.Stopping:
            return 0
        run: list[Message] = []
        run_start = 0
        gone: list[str] = []  # a run of inactive agents, handed over together
        for index, (_, _, item) in enumerate(entries):
            event = decode(item) if self.durable else item
            if isinstance(event, Inactive) and not run:
                gone.append(event.agent_id)
                continue
            self._handle_inactive(gone)
            gone = []
            if isinstance(event, Message):
                if not run:
                    run_start = index
                run.append(event)
                continue
            if not self._handle_run(run):
                return run_start
            run = []
            if self._abandon.is_set():
                return index
            if isinstance(event, Inactive):
                gone.append(event.agent_id)
            else:
                self._call("handle_out_of_band", self.instance.handle_out_of_band, event.payload)
        if not self._handle_run(run):
            return run_start
        self._handle_inactive(gone)
        return len(entries)

    def _handle_inactive(self, agent_ids: list[str]) -> None:
        """One call for a run of inactive agents; if it raises, one call per agent, as for messages."""
        if not agent_ids:
            return
        hook = self.instance.handle_inactive_agents
        failure = self._call("handle_inactive", hook, agent_ids)
        if failure is not None and len(agent_ids) > 1 and not self.instance.is_transient(failure):
            for agent_id in agent_ids:
                self._call("handle_inactive", hook, [agent_id])

    def _set_up(self) -> None:
        """``setup`` once; a durable receiver retries it (with back-off) until it succeeds."""
        attempt = 0
        while not self._ready:
            try:
                self.instance.setup()
                self._ready = True
            except base.Stopping:
                raise
            except Exception as exc:
                self._note_error("setup", exc)
                if not self.durable:
                    return
                attempt += 1
                self._back_off(attempt)

    def _handle_run(self, messages: list[Message]) -> bool:
        """Deliver consecutive messages; False when the receiver was stopped meanwhile (they stay)."""
        if not messages:
            return True
        started = time.perf_counter()
        try:
            failed = self._store(messages) if self.durable else self._handle_batch(messages)
        except base.Stopping:
            return False
        self.stats.delivered += len(messages) - failed
        self.stats.failures += failed
        self.stats.batches += 1
        metrics.batch_handled(self.name, len(messages) - failed, failed, time.perf_counter() - started)
        return True

    def _handle_batch(self, messages: list[Message]) -> int:
        """One call for the batch; if it raises, one call per message, so one bad message
        costs only itself (counted and logged) and the rest of the batch is delivered. A sink
        that is away (a transient failure) costs the batch: every message would fail alike."""
        if not self._ready:
            return len(messages)
        failure = self._call("handle_messages", self.instance.handle_messages, messages)
        if failure is None:
            return 0
        if len(messages) == 1 or self.instance.is_transient(failure):
            return len(messages)
        return sum(
            self._call("handle_messages", self.instance.handle_messages, [message]) is not None
            for message in messages
        )

    def _store(self, messages: list[Message]) -> int:
        """A durable receiver's run: retried until the sink took it; a message it refuses (found
        by handing the run over one message at a time) becomes a dead letter. Returns those."""
        refusal = self._attempt(messages)
        if refusal is None:
            return 0
        if len(messages) == 1:
            self._dead_letter(messages[0], refusal)
            return 1
        refused = 0
        for message in messages:
            refusal = self._attempt([message])
            if refusal is not None:
                self._dead_letter(message, refusal)
                refused += 1
        return refused

    def _attempt(self, messages: list[Message]) -> Exception | None:
        """``handle_messages`` until it returns (None) or fails for good (that failure)."""
        attempt = 0
        while True:
            try:
                self.instance.handle_messages(messages)
                return None
            except base.Stopping:
                raise
            except Exception as exc:
                self._note_error("handle_messages", exc)
                if not self.instance.is_transient(exc):
                    return exc
            attempt += 1
            self._back_off(attempt)

    def _dead_letter(self, message: Message, refusal: Exception) -> None:
        """Keep a refused message with its error (retried until the database takes the row)."""
        from receivers.models import DeadLetter

        attempt = 0
        while True:
            try:
                DeadLetter.objects.create(
                    receiver=self.name,
                    agent_id=str(message.agent_id)[:255],
                    data_type=str(message.data_type)[:255],
                    message=json.loads(json.dumps(message_fields(message), default=str)),
                    error=f"{type(refusal).__name__}: {refusal}"[:ERROR_MAX_LENGTH],
                )
                break
            except Exception as exc:
                self._note_error("dead letter", exc)
            attempt += 1
            self._back_off(attempt)
        self.stats.dead_letters += 1
        delivery_metrics.DEAD_LETTERS.labels(receiver=self.name).inc()
        logger.error(
            "receiver %s: a message of agent %r refused, kept as a dead letter: %s",
            self.name,
            message.agent_id,
            refusal,
        )

    def _back_off(self, attempt: int) -> None:
        """Capped exponential back-off with jitter; ``Stopping`` when the receiver is stopped."""
        self.stats.retries += 1
        delivery_metrics.RETRIES.labels(receiver=self.name).inc()
        initial = float(poa_settings.RECEIVER_RETRY_INITIAL_DELAY)
        cap = float(poa_settings.RECEIVER_RETRY_MAX_DELAY)
        delay = min(cap, initial * 2 ** min(attempt - 1, 30)) * random.uniform(0.5, 1.0)
        close_old_connections()  # a connection the outage broke is replaced on the next try
        self.instance.wait(delay)

    def _call(self, hook: str, method: Any, *args: Any) -> Exception | None:
        """Run a hook once; its failure (None: it returned). A sink that is away is a warning now
        and then (``_note_error``); anything else is logged with its traceback."""
        try:
            method(*args)
            return None
        except Exception as exc:
            self._note_error(hook, exc)
            if not self.instance.is_transient(exc):
                logger.exception("receiver %s: %s failed", self.name, hook)
            return exc

    def _note_error(self, hook: str, exc: Exception) -> None:
        self.stats.last_error = f"{hook}: {type(exc).__name__}: {exc}"
        self.stats.last_error_at = time.time()
        self._log_now_and_then(hook, "receiver %s: %s failed: %s", self.name, hook, exc)

    def _log_now_and_then(self, key: str, text: str, *args: object) -> None:
        """A warning at most once a second per kind, so an outage does not flood the log."""
        now = time.monotonic()
        if now - self.stats._last_log.get(key, float("-inf")) > 1.0:
            self.stats._last_log[key] = now
            logger.warning(text, *args)


async def _all(awaitables: list[Awaitable[None]]) -> None:
    """Await every one (each counts its own refusal), then raise the first refusal."""
    refused: DeliveryRefused | None = None
    for awaitable in awaitables:
        try:
            await awaitable
        except DeliveryRefused as exc:
            refused = refused or exc
    if refused is not None:
        raise refused


class Dispatcher:
    """Routes messages to running receivers and keeps the running set in step with the rows."""

    def __init__(self) -> None:
        self.running: dict[str, RunningReceiver] = {}
        self.routes: dict[str, tuple[RunningReceiver, ...]] = {}
        #: Durable receivers' spools by receiver name, open for the life of the dispatcher.
        self.spools: dict[str, spool.Spool] = {}
        self.clock = AcceptanceClock()
        self._stopping = threading.Event()
        self._supervisor = Loop(
            "receivers-supervisor", self.reload, lambda: poa_settings.CONFIG_REFRESH_INTERVAL
        )
        self._started = False
        self._reload_lock = threading.Lock()

    # Signal handlers: called by handlers through poa_backend.core.signals; they never block.

    def on_message(
        self, sender: object, message: Message, deferred: bool = False, **kwargs: object
    ) -> Awaitable[None] | None:
        """Queue the message for its subscribers that take its kind; raises ``DeliveryRefused``
        (and queues it for none) when a durable subscriber's spool has no room. ``deferred`` (a
        sender on the event loop): the spool writes go to each spool's committer thread with the
        rest of this loop turn's, and the awaitable returned completes once they are written."""
        kind = message.data.get("type") if isinstance(message.data, dict) else None
        receivers = [
            receiver
            for receiver in self.routes.get(message.data_type, ())
            if receiver.kinds is None or kind in receiver.kinds
        ]
        if not receivers:
            return None
        self.clock.stamp(message)  # distinct per agent before it is spooled: redelivery is idempotent
        durable = [receiver for receiver in receivers if receiver.durable]
        body = encode(message) if durable else b""
        for receiver in durable:
            if not receiver.has_room(len(body)):
                receiver.spool(body)  # raises DeliveryRefused, counted for that receiver
        committing = []
        for receiver in receivers:
            if not receiver.durable:
                receiver.offer(message)
            elif deferred:
                committing.append(receiver.spool_soon(body))
            else:
                receiver.spool(body)
        return _all(committing) if committing else None

    def on_inactive(self, sender: object, agent_id: str, **kwargs: object) -> None:
        event = Inactive(agent_id)
        self.clock.forget(agent_id)
        for receiver in list(self.running.values()):
            receiver.offer(event)

    def on_out_of_band(
        self, sender: object, payload: Any, receiver: str | None = None, **kwargs: object
    ) -> None:
        event = OutOfBand(payload)
        for running in list(self.running.values()):
            if receiver is None or running.name == receiver:
                running.offer(event)

    # Life cycle.

    def start(self) -> None:
        """Start the receivers of the enabled rows and keep following the rows."""
        if self._started:
            return
        self._started = True
        self._stopping.clear()
        self.reload()
        self._supervisor.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop routing, let every receiver drain for up to ``timeout`` seconds, then terminate;
        what a durable receiver did not deliver by then stays in its spool for the next start."""
        timeout = poa_settings.RECEIVER_DRAIN_TIMEOUT if timeout is None else timeout
        self._stopping.set()
        self._supervisor.stop()
        self._started = False
        with self._reload_lock:
            stopping = list(self.running.values())
            self.routes = {}
            self.running = {}
        for receiver in stopping:
            receiver.request_stop()
        deadline = time.monotonic() + timeout
        for receiver in stopping:
            receiver.thread.join(max(0.0, deadline - time.monotonic()))
            if receiver.thread.is_alive():
                left = receiver.queue.qsize()
                if receiver.durable:
                    logger.warning(
                        "receiver %s: %d messages not delivered in %.1fs, kept in its spool",
                        receiver.name,
                        left,
                        timeout,
                    )
                else:
                    logger.warning(
                        "receiver %s: %d items not drained in %.1fs, dropping them",
                        receiver.name,
                        left,
                        timeout,
                    )
                receiver.abandon()
                receiver.thread.join(2.0)
        if all(not receiver.thread.is_alive() for receiver in stopping):
            for opened in self.spools.values():
                opened.close()
            self.spools = {}
            spool.slot.release()

    def reload(self) -> None:
        """Bring the running receivers and the routes in line with the enabled rows."""
        from receivers.models import Receiver

        close_old_connections()
        rows = list(Receiver.objects.filter(enabled=True).prefetch_related("metric_types"))
        with self._reload_lock:
            if self._stopping.is_set() and not self._started:
                return
            running: dict[str, RunningReceiver] = {}
            subscriptions: dict[str, list[str]] = {}
            for row in rows:
                current = self.running.get(row.name)
                if current is None or current.signature != row.signature:
                    current = self._build(row, current)
                    if current is None:
                        continue
                running[row.name] = current
                subscriptions[row.name] = [metric_type.name for metric_type in row.metric_types.all()]
            routes: dict[str, list[RunningReceiver]] = {}
            for name, metric_types in subscriptions.items():
                for metric_type in metric_types:
                    routes.setdefault(metric_type, []).append(running[name])
            retired = [r for name, r in self.running.items() if running.get(name) is not r]
            self.routes = {key: tuple(value) for key, value in routes.items()}
            self.running = running
        for receiver in retired:
            logger.info("receiver %s: stopping", receiver.name)
            receiver.retire()
        for receiver in running.values():
            if not receiver.thread.is_alive() and receiver.thread.ident is None:
                receiver.start()
                logger.info("receiver %s: started", receiver.name)

    def _build(self, row: Any, current: RunningReceiver | None) -> RunningReceiver | None:
        try:
            instance = row.build()
            queue = None
            if instance.is_durable:
                queue = self.spools.get(row.name)
                if queue is None:
                    queue = self.spools[row.name] = spool.open_spool(row.name)
            predecessor = current if current is not None and current.durable else None
            return RunningReceiver(row.name, row.signature, instance, queue, predecessor)
        except Exception as exc:  # a broken row is logged, never fatal
            logger.error("receiver %s not started: %s", row.name, exc)
            return None

    # Introspection (admin figures, route source, /healthz).

    def plugins(self) -> Iterable[base.ReceiverPlugin]:
        return [receiver.instance for receiver in list(self.running.values())]

    def get(self, name: str) -> RunningReceiver | None:
        return self.running.get(name)

    def topology(self) -> dict[str, list[str]]:
        """Metric type to receiver names, as routed right now."""
        return {key: [r.name for r in value] for key, value in sorted(self.routes.items())}

    def delivery_figures(self) -> dict[str, dict[str, float]]:
        """Each running receiver's delivery figures in this process."""
        return {name: receiver.figures() for name, receiver in sorted(dict(self.running).items())}

    def replay(self, receiver: str, messages: list[Message]) -> bool:
        """Hand messages (dead letters) to a running receiver again, behind what it has queued."""
        running = self.running.get(receiver)
        if running is None:
            return False
        for message in messages:
            if running.durable:
                running.spool(encode(message))
            else:
                running.offer(message)
        return True


dispatcher = Dispatcher()
delivery_metrics.register(dispatcher.delivery_figures)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
