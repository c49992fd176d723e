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


def encode_frame(agent_id: str, data: Any) -> str:
    """``{"agent_id":...,"data":...}`` as compact JSON, the data's keys in the order the agent sent them.

    Raises TypeError or ValueError for data JSON cannot carry (binary, NaN).
    """
    return json.dumps(
        {"agent_id": agent_id, "data": data}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )


def catchup_kind(data: Any) -> str | None:
    """Which catch-up slot a message's data fills, if any."""
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if kind in CATCHUP_KINDS else None


def catchup_order(latest: dict[str, dict[str, str]]) -> list[str]:
    """Catch-up frames from ``{kind: {agent_id: frame}}``: per agent (sorted), information then statistics."""
    agents = sorted({agent for frames in latest.values() for agent in frames})
    return [
        latest[kind][agent] for agent in agents for kind in CATCHUP_KINDS if agent in latest.get(kind, {})
    ]
