"""Delivery figures in /metrics: per receiver, its spool, retries, dead letters and refusals.

Spool gauges are sampled from every live process (summed; the oldest age is the
largest over processes); counters are counted where they happen.
"""

from collections.abc import Callable

from prometheus_client import Counter, Gauge

from poa_backend.core import metrics

SPOOL_MESSAGES = Gauge(
    "poa_receiver_spool_messages",
    "Messages a receiver has not handled yet (its spool or queue), summed over live processes.",
    ["receiver"],
    multiprocess_mode="livesum",
)
SPOOL_BYTES = Gauge(
    "poa_receiver_spool_bytes",
    "Bytes in a durable receiver's spools, summed over live processes.",
    ["receiver"],
    multiprocess_mode="livesum",
)
OLDEST_SECONDS = Gauge(
    "poa_receiver_oldest_undelivered_seconds",
    "Age of the oldest message a receiver has not handled yet (largest over live processes).",
    ["receiver"],
    multiprocess_mode="livemax",
)
RETRIES = Counter(
    "poa_receiver_retries", "Retries of a durable receiver's batch after a transient failure.", ["receiver"]
)
DEAD_LETTERS = Counter(
    "poa_receiver_dead_letters",
    "Messages a durable receiver's sink refused, kept as dead letters.",
    ["receiver"],
)
REFUSED = Counter(
    "poa_receiver_refused_messages",
    "Messages refused at the handler because a durable receiver's spool was full.",
    ["receiver"],
)

_sampled: set[str] = set()


def sample(figures: dict[str, dict[str, float]]) -> None:
    """Write this process's spool figures (receiver name -> figures); gone receivers go to 0."""
    for name in _sampled - figures.keys():
        for gauge in (SPOOL_MESSAGES, SPOOL_BYTES, OLDEST_SECONDS):
            gauge.labels(receiver=name).set(0)
    for name, values in figures.items():
        SPOOL_MESSAGES.labels(receiver=name).set(values.get("depth", 0))
        SPOOL_BYTES.labels(receiver=name).set(values.get("bytes", 0))
        OLDEST_SECONDS.labels(receiver=name).set(values.get("oldest_seconds", 0))
    _sampled.clear()
    _sampled.update(figures)


class SpoolSampler:
    """The sampler ``/metrics`` and the sampling loop call: reads the figures, writes the gauges."""

    def __init__(self, figures: Callable[[], dict[str, dict[str, float]]]) -> None:
        self.figures = figures

    def __call__(self) -> None:
        sample(self.figures())


def register(figures: Callable[[], dict[str, dict[str, float]]]) -> None:
    metrics.register_sampler(SpoolSampler(figures))
