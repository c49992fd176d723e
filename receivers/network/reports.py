"""What one message tells the network view: the fields of a node's state it changes.

Agents send numbers as JSON numbers, "0x" hex or decimal strings; anything else
is ignored field by field, so one odd value never costs the rest of a report.
"""

import math
from dataclasses import dataclass
from typing import Any

from poa_backend.core.message import Message

#: Longest node name kept (the rest is cut off).
NAME_MAX_LENGTH = 128


def number(value: Any) -> int | None:
    """A non-negative integer from a JSON number or a hex/decimal string; None otherwise."""
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            value = int(text, 16) if text.startswith("0x") else int(text, 10)
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    return value


def measure(value: Any) -> float | None:
    """A finite non-negative number (latency in ms); None otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


@dataclass(slots=True)
class Report:
    """One message, read: the node's changed fields and, for a ``block``, its arrival."""

    node_id: str
    at: float
    fields: dict[str, Any]
    block: tuple[str, int, int | None] | None = None  # (hash, number, timestamp)


def _information(body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    return {"name": name[:NAME_MAX_LENGTH]} if isinstance(name, str) and name else {}


def _statistics(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if isinstance(body.get("active"), bool):
        fields["reported_active"] = body["active"]
    peers = number(body.get("peers"))
    if peers is not None:
        fields["peers"] = peers
    syncing = body.get("syncing")
    if isinstance(syncing, bool | dict):
        fields["syncing"] = bool(syncing)
    return fields


def _pending(body: dict[str, Any]) -> dict[str, Any]:
    pending = number(body.get("pending"))
    return {} if pending is None else {"pending": pending}


def _latency(body: dict[str, Any]) -> dict[str, Any]:
    latency = measure(body.get("latency"))
    return {} if latency is None else {"latency": latency}


READERS = {"information": _information, "statistics": _statistics, "pending": _pending, "latency": _latency}


def read(message: Message) -> Report | None:
    """The report in ``message``, or None when it says nothing the view keeps."""
    data = message.data if isinstance(message.data, dict) else {}
    kind, body = data.get("type"), data.get("body")
    if not isinstance(message.agent_id, str) or not isinstance(body, dict):
        return None
    at = float(message.accepted_at)
    if kind == "block":
        head, block_hash = number(body.get("number")), body.get("hash")
        if head is None or not isinstance(block_hash, str) or not block_hash:
            return None
        timestamp = number(body.get("timestamp"))
        fields = {"head": head, "head_hash": block_hash, "head_timestamp": timestamp, "head_at": at}
        return Report(message.agent_id, at, fields, (block_hash[:130], head, timestamp))
    reader = READERS.get(kind)
    if reader is None:
        return Report(message.agent_id, at, {})
    return Report(message.agent_id, at, reader(body))
