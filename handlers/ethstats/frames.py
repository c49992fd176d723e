"""The ethstats wire format (eth-netstats over Primus): what a client's frame is, and ours.

A frame is one JSON value: an object ``{"emit": [event, payload]}`` (primus-emit), or a
JSON string for Primus's own control messages (``"primus::ping::<ms>"``). Everything the
server sends is built here, compact, as whole ASGI ``websocket.send`` messages.
"""

import json
from dataclasses import dataclass
from typing import Any

from poa_backend.core.intake import decode_json

PRIMUS_PING = "primus::ping::"
PRIMUS_PONG = "primus::pong::"
#: What Primus writes before ending a spark that must not reconnect (eth-netstats' refusal).
PRIMUS_SERVER_CLOSE = "primus::server::close"


@dataclass(frozen=True, slots=True)
class Event:
    """An ``emit`` frame: the event name and its payload (``None`` when the client sent none)."""

    name: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Control:
    """A Primus control string (``primus::ping::<ms>`` and friends)."""

    text: str


@dataclass(frozen=True, slots=True)
class Other:
    """Valid JSON that is neither (``{"_latency": 0}`` from primus-spark-latency, say): ignored."""

    value: Any


Frame = Event | Control | Other


def decode(text: str | bytes) -> Frame:
    """One frame; raises ``poa_backend.core.intake.Refusal`` (``malformed``) when it is not JSON."""
    value = decode_json(text)  # a trailing newline (go-ethereum's json.Encoder) is whitespace
    if isinstance(value, str):
        return Control(value)
    if isinstance(value, dict) and "emit" in value:
        emit = value["emit"]
        if isinstance(emit, list) and emit and isinstance(emit[0], str):
            return Event(emit[0], emit[1] if len(emit) > 1 else None)
    return Other(value)


def encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def send(value: Any) -> dict[str, Any]:
    """The ASGI message sending ``value`` as one text frame."""
    return {"type": "websocket.send", "text": encode(value)}


def emit(event: str, *payload: Any) -> dict[str, Any]:
    return send({"emit": [event, *payload]})


#: Exactly this, first after a hello is accepted: go-ethereum and Erigon refuse anything else.
READY = emit("ready")
SERVER_CLOSE = send(PRIMUS_SERVER_CLOSE)


def primus_pong(ping: str) -> dict[str, Any]:
    """The answer to ``primus::ping::<ms>``: the same suffix, as Primus's server echoes it."""
    return send(PRIMUS_PONG + ping[len(PRIMUS_PING) :])


def node_pong(client_time: Any, server_time: int) -> dict[str, Any]:
    """The answer to ``node-ping``: ``clientTime`` echoed whatever its JSON type (as eth-netstats)."""
    return emit("node-pong", {"clientTime": client_time, "serverTime": server_time})


def history_request(numbers: list[int]) -> dict[str, Any]:
    """Ask for these blocks: ``list`` for go-ethereum, Besu and the Node agent, ``min``/``max``
    for Nethermind."""
    return emit("history", {"max": numbers[-1], "min": numbers[0], "list": numbers})
