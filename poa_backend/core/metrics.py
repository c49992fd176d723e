"""Prometheus metrics: what was accepted and rejected, what receivers did, who is connected.

Every process serving from one data dir writes its figures to memory-mapped files
in ``DATA_DIR/metrics`` (prometheus_client's multiprocess mode, switched on in
settings before the library is imported), and ``/metrics`` on any listener adds
them up. So ``runbackend --workers N`` shows one set of totals. The first process
of a run (no other live process has files there) clears what an earlier run left.

Apps add what only they can see: ``register_collector`` for figures computed at
scrape time (routing topology, active agents, read from the database), and
``register_sampler`` for per-process state written every few seconds (queue depths).
"""

import fcntl
import functools
import hmac
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from poa_backend.core.message import Message

logger = logging.getLogger(__name__)

#: The ``data.type`` values of the POA Protocol; anything else is counted as "other".
KNOWN_KINDS = frozenset({"information", "block", "history", "pending", "statistics", "latency"})

MESSAGES_ACCEPTED = Counter(
    "poa_messages_accepted",
    "Messages handlers accepted and handed to the receivers.",
    ["handler", "metric_type", "kind"],
)
MESSAGES_REJECTED = Counter(
    "poa_messages_rejected",
    "Agent calls a handler refused, by reason (the status or a short word).",
    ["handler", "reason", "metric_type"],
)
AGENTS_INACTIVE = Counter(
    "poa_agents_inactive",
    "Agents declared inactive (went quiet, said bye or disconnected), by who noticed.",
    ["source"],
)
RECEIVER_DELIVERED = Counter(
    "poa_receiver_delivered_messages", "Messages a receiver handled without error.", ["receiver"]
)
RECEIVER_FAILED = Counter(
    "poa_receiver_failed_messages", "Messages in batches whose handler raised.", ["receiver"]
)
RECEIVER_DROPPED = Counter(
    "poa_receiver_dropped_events", "Events not queued because the receiver's queue was full.", ["receiver"]
)
RECEIVER_BATCH_SECONDS = Histogram(
    "poa_receiver_batch_seconds",
    "Time a receiver took to handle one batch of messages.",
    ["receiver"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RECEIVER_QUEUE_DEPTH = Gauge(
    "poa_receiver_queue_depth",
    "Events waiting in a receiver's queue (summed over live processes).",
    ["receiver"],
    multiprocess_mode="livesum",
)
GC_PAUSE_SECONDS = Histogram(
    "poa_gc_pause_seconds",
    "Time one cyclic garbage collection stopped a serving process, by generation (poa_backend/garbage.py).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
GC_COLLECTED = Counter(
    "poa_gc_collected_objects",
    "Unreachable objects the cyclic garbage collector freed, by generation: reference cycles made.",
    ["generation"],
)
GC_FROZEN_OBJECTS = Gauge(
    "poa_gc_frozen_objects",
    "Objects a serving process kept out of garbage collection once started (the largest of live processes).",
    multiprocess_mode="livemax",
)
CONNECTIONS = Gauge(
    "poa_connections",
    "Open WebSocket connections by kind: agent, dashboard (the feed) and browser (the web page).",
    ["kind"],
    multiprocess_mode="livesum",
)


@functools.lru_cache(maxsize=256)
def handler_label(sender: object) -> str:
    """``RestHandler`` -> ``rest``: the label handlers also pass to ``rejected``."""
    name = getattr(sender, "__name__", None) or type(sender).__name__
    return name.removesuffix("Handler").lower() or "unknown"


def kind_label(data: object) -> str:
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if kind in KNOWN_KINDS else "other"


# What handlers call.


def rejected(handler: str, reason: str, metric_type: str = "") -> None:
    """Count a refused agent call: ``rejected("rest", "415")``, ``rejected("websocket", "unknown_type", t)``.

    Keep ``reason`` to a small fixed set (the status code, or a word), and pass
    ``metric_type`` only when it is a configured one, so labels stay few.
    """
    MESSAGES_REJECTED.labels(handler=handler, reason=reason, metric_type=metric_type).inc()


def connection_opened(kind: str) -> None:
    """A WebSocket of ``kind`` (agent, dashboard, browser) opened in this process."""
    CONNECTIONS.labels(kind=kind).inc()


def connection_closed(kind: str) -> None:
    CONNECTIONS.labels(kind=kind).dec()


# Signal listeners (connected in PoaBackendConfig.ready).


class _Tally:
    """Per-message increments summed in memory, added to a shared counter in bulk.

    Incrementing a multiprocess counter checks the process id and writes its
    memory-mapped file: microseconds paid for every accepted message. The sums move
    over every ``METRICS_SAMPLE_INTERVAL`` and before each scrape of this process.
    """

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self._lock = threading.Lock()
        self._sums: defaultdict[tuple[str, ...], int] = defaultdict(int)

    def add(self, *labels: str) -> None:
        with self._lock:
            self._sums[labels] += 1

    def flush(self) -> None:
        with self._lock:
            sums, self._sums = self._sums, defaultdict(int)
        for labels, amount in sums.items():
            self.counter.labels(*labels).inc(amount)


_accepted = _Tally(MESSAGES_ACCEPTED)


def on_message_received(sender: object, message: Message, **kwargs: object) -> None:
    _accepted.add(handler_label(sender), message.data_type, kind_label(message.data))


def on_agent_inactive(sender: object, **kwargs: object) -> None:
    AGENTS_INACTIVE.labels(source=handler_label(sender)).inc()


# What the receivers' dispatcher calls.


def batch_handled(receiver: str, delivered: int, failed: int, seconds: float) -> None:
    """A batch handed to a receiver: how many of its messages were delivered, how many failed."""
    if delivered:
        RECEIVER_DELIVERED.labels(receiver=receiver).inc(delivered)
    if failed:
        RECEIVER_FAILED.labels(receiver=receiver).inc(failed)
    RECEIVER_BATCH_SECONDS.labels(receiver=receiver).observe(seconds)


def event_dropped(receiver: str) -> None:
    RECEIVER_DROPPED.labels(receiver=receiver).inc()


# Extension points for apps.

_collectors: list[Collector] = []
_samplers: list[Callable[[], None]] = []


def register_collector(collector: Collector) -> None:
    """Add a collector whose figures are computed when ``/metrics`` is scraped."""
    if collector not in _collectors:
        _collectors.append(collector)


def register_sampler(sampler: Callable[[], None]) -> None:
    """Call ``sampler`` every ``METRICS_SAMPLE_INTERVAL`` seconds in each serving process."""
    if sampler not in _samplers:
        _samplers.append(sampler)


register_sampler(_accepted.flush)


# Process life cycle (connected to backend_started / backend_stopping).


def metrics_dir() -> Path:
    return Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def _pid_of(path: Path) -> int | None:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_files() -> None:
    """Start a run from zero: remove the files when no other live process wrote any.

    When siblings are alive (a worker restarted beside others) every file stays,
    so the totals never go back while the run goes on.
    """
    directory = metrics_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = list(directory.glob("*.db"))
        me = os.getpid()
        if any(pid not in (None, me) and _alive(pid) for pid in map(_pid_of, files)):
            return
        for path in files:
            if _pid_of(path) != me:
                path.unlink(missing_ok=True)


def sample() -> None:
    """Run every registered sampler once (a failing one is logged, never fatal)."""
    for sampler in list(_samplers):
        try:
            sampler()
        except Exception:
            logger.exception("metrics: sampler %r failed", sampler)


_sampler = Loop("metrics-sampler", sample, lambda: poa_settings.METRICS_SAMPLE_INTERVAL)


def start(**kwargs: object) -> None:
    clear_stale_files()
    _sampler.start()


def stop(**kwargs: object) -> None:
    """Stop sampling; this process's live gauges (connections, queue depths) leave the sums."""
    _sampler.stop()
    _accepted.flush()
    multiprocess.mark_process_dead(os.getpid())


# The /metrics view.


def collect(extra: Iterable[Collector] = ()) -> bytes:
    """Every process's figures, summed, plus the registered collectors', in text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in [*_collectors, *extra]:
        registry.register(collector)
    return generate_latest(registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint; with ``METRICS_TOKEN`` set it wants ``Authorization: Bearer <token>``."""
    token = poa_settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    sample()
    return HttpResponse(collect(), content_type=CONTENT_TYPE_LATEST)
