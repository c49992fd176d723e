"""Counting what a simulation sent, what came back, and how long it took."""

import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def summarize_latencies(values: "array[float] | list[float]") -> dict[str, float | None]:
    """p50/p99/max in milliseconds."""
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 2)}


def stamp_key(agent_index: int, seq: int) -> int:
    """One int naming one stamped message: which agent, which of its messages."""
    return (agent_index << 32) | seq


@dataclass
class Recorder:
    """Calls sent by agents and their answers. ``accepted_keys`` holds the stamped messages that
    were acknowledged with success and that a dashboard should see (for loss counting)."""

    sent: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    by_call: Counter = field(default_factory=Counter)
    latencies: array = field(default_factory=lambda: array("d"))
    accepted_keys: set[int] = field(default_factory=set)
    renewals: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def answer(self, call: str, ok: bool, reason: str, seconds: float, key: int | None = None) -> None:
        self.latencies.append(seconds)
        if ok:
            self.accepted += 1
            self.by_call[call] += 1
            if key is not None:
                self.accepted_keys.add(key)
        else:
            self.rejected[reason] += 1

    def error(self, reason: str) -> None:
        self.errors[reason] += 1

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def summary(self) -> dict[str, Any]:
        elapsed = max(self.elapsed, 1e-9)
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(self.rejected),
            "errors": dict(self.errors),
            "by_call": dict(self.by_call),
            "renewals": self.renewals,
            "seconds": round(elapsed, 2),
            "accepted_per_s": round(self.accepted / elapsed, 1),
            "latency": summarize_latencies(self.latencies),
        }


@dataclass
class DeliveryRecorder:
    """Frames a dashboard received: delivery latency (agent send time to frame arrival) and keys."""

    frames: int = 0
    stamped: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    #: When each timed frame's message was sent (unix time), in the order of ``latencies``.
    sent_at: array = field(default_factory=lambda: array("d"))
    received_keys: set[int] = field(default_factory=set)
    connected_at: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "stamped": self.stamped,
            "latency": summarize_latencies(self.latencies),
        }
