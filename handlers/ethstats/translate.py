"""ethstats events as POA Messages: the bodies a POA agent would send for the same facts.

Clients disagree on how they write quantities (JSON numbers, decimal strings, ``0x``
hex; Besu and reth use hex) and on optional keys; receivers and the POA dashboard
see one form: block heights, times, gas and sizes as integers, difficulties as
decimal strings (exact above 2^64), every other field as the client sent it.
"""

from typing import Any

ETHEREUM = "ethereum_metrics"
NETWORKING = "networking_metrics"

#: Block fields turned into integers, and into decimal strings, where present.
INTEGER_FIELDS = ("number", "timestamp", "gasUsed", "gasLimit", "size")
DECIMAL_FIELDS = ("difficulty", "totalDifficulty")
#: The ``statistics`` body's keys (a POA agent's), and what fills the two go-ethereum dropped.
STATISTICS_KEYS = ("active", "mining", "hashrate", "peers", "gasPrice", "syncing", "uptime")
STATISTICS_DEFAULTS = {"mining": False, "hashrate": 0}
#: The largest quantity Ethereum has (uint256); longer values are not quantities.
MAX_QUANTITY = 2**256 - 1


class Untranslatable(ValueError):
    """The event's payload lacks what its translation needs, or holds a non-quantity."""


def quantity(value: object) -> int:
    """An unsigned quantity given as a JSON integer, a decimal string or a ``0x`` hex string."""
    if isinstance(value, bool):
        raise Untranslatable("a boolean is not a quantity")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and 0 < len(value) <= 80:  # 2^256 has 78 digits, 66 hex characters
        text = value.strip()
        try:
            number = int(text[2:], 16) if text[:2].lower() == "0x" else int(text, 10)
        except ValueError as exc:
            raise Untranslatable(f"{value!r} is not a quantity") from exc
    else:
        raise Untranslatable(f"{value!r} is not a quantity")
    if not 0 <= number <= MAX_QUANTITY:
        raise Untranslatable("quantity out of range")
    return number


def block_body(block: object) -> dict[str, Any]:
    """A block with its quantities in one form; nothing added, nothing else changed."""
    if not isinstance(block, dict):
        raise Untranslatable("block: not an object")
    body = dict(block)
    for key in INTEGER_FIELDS:
        if body.get(key) is not None:
            body[key] = quantity(body[key])
    for key in DECIMAL_FIELDS:
        if body.get(key) is not None:
            body[key] = str(quantity(body[key]))
    return body


def _field(payload: object, key: str) -> Any:
    if not isinstance(payload, dict) or key not in payload:
        raise Untranslatable(f"{key}: missing")
    return payload[key]


def information(info: object) -> dict[str, Any]:
    """``hello.info`` as sent."""
    if not isinstance(info, dict):
        raise Untranslatable("info: not an object")
    return {"type": "information", "body": info}


def block(payload: object) -> dict[str, Any]:
    return {"type": "block", "body": block_body(_field(payload, "block"))}


def history(payload: object) -> dict[str, Any]:
    """Blocks in the order the client sent them; the ``null``/``false`` holes some clients
    leave for blocks they lack are not blocks and are left out."""
    entries = _field(payload, "history")
    if not isinstance(entries, list):
        raise Untranslatable("history: not a list")
    return {"type": "history", "body": {"history": [block_body(item) for item in entries if item]}}


def pending(payload: object) -> dict[str, Any]:
    return {"type": "pending", "body": {"pending": _field(_field(payload, "stats"), "pending")}}


def statistics(payload: object) -> dict[str, Any]:
    stats = _field(payload, "stats")
    if not isinstance(stats, dict):
        raise Untranslatable("stats: not an object")
    body = {key: value for key, value in stats.items() if key in STATISTICS_KEYS}
    for key, default in STATISTICS_DEFAULTS.items():
        body.setdefault(key, default)
    return {"type": "statistics", "body": body}


def latency(payload: object) -> dict[str, Any]:
    """Milliseconds as an integer (go-ethereum and Besu send a string of digits)."""
    return {"type": "latency", "body": {"latency": quantity(_field(payload, "latency"))}}


#: event name -> (metric type, translation). Events not named here produce no message.
TRANSLATIONS = {
    "block": (ETHEREUM, block),
    "history": (ETHEREUM, history),
    "pending": (ETHEREUM, pending),
    "stats": (ETHEREUM, statistics),
    "latency": (NETWORKING, latency),
}
