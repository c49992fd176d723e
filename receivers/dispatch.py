"""Delivery: every accepted message to every enabled receiver subscribed to its metric type.

The signal handlers below only put the message on each subscriber's bounded
queue and return, so agents never wait on receivers. Each receiver's worker
thread takes batches off its queue in order (per agent, the order the agent
sent). A supervisor thread re-reads the Receiver rows every
``CONFIG_REFRESH_INTERVAL``, so admin edits apply without a restart.
"""

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections

from poa_backend.core import metrics
from poa_backend.core import receiver as base
from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from poa_backend.core.message import Message

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inactive:
    agent_id: str


@dataclass(frozen=True, slots=True)
class OutOfBand:
    payload: Any


_STOP = object()


@dataclass
class ReceiverStats:
    delivered: int = 0
    failures: int = 0
    dropped: int = 0
    batches: int = 0
    last_error: str = ""
    last_error_at: float | None = None
    _last_drop_log: float = field(default=float("-inf"), repr=False)


class RunningReceiver:
    """A receiver instance with its bounded queue and the worker thread that drains it."""

    def __init__(self, name: str, signature: tuple, instance: base.ReceiverPlugin) -> None:
        self.name = name
        self.signature = signature
        self.instance = instance
        self.stats = ReceiverStats()
        options = instance.options
        self.batch_size = int(
            options.get("batch_size") or instance.batch_size or poa_settings.RECEIVER_BATCH_SIZE
        )
        self.queue: queue.Queue = queue.Queue(
            int(options.get("queue_size") or instance.queue_size or poa_settings.RECEIVER_QUEUE_SIZE)
        )
        self.linger = float(options.get("linger", instance.linger))
        self._next_batch_at = 0.0
        self._abandon = threading.Event()
        self._ready = False
        self.thread = threading.Thread(target=self._run, name=f"receiver-{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def offer(self, item: object) -> None:
        """Queue an item without blocking; a full queue is counted and logged, never silent."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1
            metrics.event_dropped(self.name)
            now = time.monotonic()
            if now - self.stats._last_drop_log > 1.0:
                self.stats._last_drop_log = now
                logger.warning(
                    "receiver %s: queue full (%d), dropped %d so far",
                    self.name,
                    self.queue.maxsize,
                    self.stats.dropped,
                )

    def request_stop(self) -> None:
        """Let the worker drain what is queued, then terminate."""
        threading.Thread(target=self.queue.put, args=(_STOP,), daemon=True).start()

    def retire(self) -> None:
        """Replaced or disabled: drain what is queued without waiting out outages, then terminate."""
        self.instance.stopping.set()
        self.request_stop()

    def abandon(self) -> None:
        """Skip whatever is still queued and terminate now."""
        self._abandon.set()
        self.instance.stopping.set()
        self.request_stop()

    # The worker thread.

    def _run(self) -> None:
        try:
            while not self._abandon.is_set():
                items = [self.queue.get()]
                # A lingering receiver waits, up to ``linger`` after its last batch, for a full batch.
                if self.queue.qsize() < self.batch_size - 1:
                    self._abandon.wait(self._next_batch_at - time.monotonic())
                self._next_batch_at = time.monotonic() + self.linger
                while len(items) < self.batch_size:
                    try:
                        items.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                if not self._deliver(items):
                    return
        finally:
            self._call("terminate", self.instance.terminate)
            close_old_connections()

    def _deliver(self, items: list[object]) -> bool:
        """Hand a run of queued items to the hooks; False once the stop marker is reached."""
        close_old_connections()
        if not self._ready:
            self._ready = self._call("setup", self.instance.setup)
        messages: list[Message] = []
        for item in items:
            if isinstance(item, Message):
                messages.append(item)
                continue
            self._handle_batch(messages)
            messages = []
            if item is _STOP or self._abandon.is_set():
                return False
            if isinstance(item, Inactive):
                self._call("handle_inactive", self.instance.handle_inactive, item.agent_id)
            elif isinstance(item, OutOfBand):
                self._call("handle_out_of_band", self.instance.handle_out_of_band, item.payload)
        self._handle_batch(messages)
        return True

    def _handle_batch(self, messages: list[Message]) -> None:
        """One call for the batch; if it raises, one call per message, so one bad message
        costs only itself (counted and logged) and the rest of the batch is delivered."""
        if not messages:
            return
        started = time.perf_counter()
        if not self._ready:
            failed = len(messages)
        elif self._call("handle_messages", self.instance.handle_messages, messages):
            failed = 0
        elif len(messages) == 1:
            failed = 1
        else:
            failed = sum(
                not self._call("handle_messages", self.instance.handle_messages, [message])
                for message in messages
            )
        self.stats.delivered += len(messages) - failed
        self.stats.failures += failed
        self.stats.batches += 1
        metrics.batch_handled(self.name, len(messages) - failed, failed, time.perf_counter() - started)

    def _call(self, hook: str, method: Any, *args: Any) -> bool:
        try:
            method(*args)
            return True
        except Exception as exc:
            self.stats.last_error = f"{hook}: {type(exc).__name__}: {exc}"
            self.stats.last_error_at = time.time()
            logger.exception("receiver %s: %s failed", self.name, hook)
            return False


class Dispatcher:
    """Routes messages to running receivers and keeps the running set in step with the rows."""

    def __init__(self) -> None:
        self.running: dict[str, RunningReceiver] = {}
        self.routes: dict[str, tuple[RunningReceiver, ...]] = {}
        self._stopping = threading.Event()
        self._supervisor = Loop(
            "receivers-supervisor", self.reload, lambda: poa_settings.CONFIG_REFRESH_INTERVAL
        )
        self._started = False
        self._reload_lock = threading.Lock()

    # Signal handlers: called by handlers through poa_backend.core.signals; they never block.

    def on_message(self, sender: object, message: Message, **kwargs: object) -> None:
        for receiver in self.routes.get(message.data_type, ()):
            receiver.offer(message)

    def on_inactive(self, sender: object, agent_id: str, **kwargs: object) -> None:
        event = Inactive(agent_id)
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
        """Stop routing, let every receiver drain for up to ``timeout`` seconds, then terminate."""
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
                logger.warning(
                    "receiver %s: %d items not drained in %.1fs, dropping them",
                    receiver.name,
                    receiver.queue.qsize(),
                    timeout,
                )
                receiver.abandon()
                receiver.thread.join(2.0)

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
                    current = self._build(row)
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

    def _build(self, row: Any) -> RunningReceiver | None:
        try:
            return RunningReceiver(row.name, row.signature, row.build())
        except Exception as exc:  # a broken row is logged, never fatal
            logger.error("receiver %s not started: %s", row.name, exc)
            return None

    # Introspection (admin figures, route source).

    def plugins(self) -> Iterable[base.ReceiverPlugin]:
        return [receiver.instance for receiver in list(self.running.values())]

    def get(self, name: str) -> RunningReceiver | None:
        return self.running.get(name)

    def topology(self) -> dict[str, list[str]]:
        """Metric type to receiver names, as routed right now."""
        return {key: [r.name for r in value] for key, value in sorted(self.routes.items())}


dispatcher = Dispatcher()
