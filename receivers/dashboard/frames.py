"""The text frames dashboards get, encoded once per message whatever the number of dashboards."""

import json
from typing import Any

#: The ``data`` of the frame that tells dashboards an agent went quiet or left (protocol section 7).
INACTIVE_DATA: dict[str, Any] = {
    "type": "statistics",
    "body": {
        "active": False,
        "gasPrice": None,
        "hashrate": 0,
        "mining": False,
        "peers": 0,
        "syncing": None,
        "uptime": None,
    },
}

#: The kinds of ``data`` whose latest frame per agent a newly connected dashboard gets first, in order.
CATCHUP_KINDS = ("information", "statistics")


class Unencodable(ValueError):
    """A message the feed cannot carry: not JSON (binary, NaN, too deep) or not UTF-8 (lone surrogates)."""


def encode_frame(agent_id: str, data: Any) -> str:
    """``{"agent_id":...,"data":...}`` as compact JSON, the data's keys in the order the agent sent them.

    Checked here, once, so that every frame handed on can be written to a socket:
    raises ``Unencodable`` instead of failing later in each dashboard's send.
    """
    try:
        frame = json.dumps(
            {"agent_id": agent_id, "data": data}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
        if not frame.isascii():
            frame.encode("utf-8")  # a lone surrogate survives json.dumps, not the socket
    except (TypeError, ValueError, RecursionError) as exc:
        raise Unencodable(str(exc)) from exc
    return frame


def stored_frame(frame: object, agent_id: str) -> str | None:
    """A frame read back from a saved catch-up (file, Redis) if a dashboard can take it, else None.

    Entries written by older versions may be anything; one bad entry must not fail every catch-up.
    """
    if isinstance(frame, bytes):
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(frame, str):
        return None
    try:
        frame.encode("utf-8")
        decoded = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, dict) or decoded.get("agent_id") != agent_id:
        return None
    if not isinstance(decoded.get("data"), dict) or catchup_kind(decoded["data"]) is None:
        return None
    return frame


def catchup_kind(data: Any) -> str | None:
    """Which catch-up slot a message's data fills, if any."""
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if kind in CATCHUP_KINDS else None
