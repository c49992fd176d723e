"""The POA Protocol core: the Message every handler builds and every receiver consumes."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from poa_backend.snapshot import Snapshot


class MessageType(StrEnum):
    DATA = "data"
    PING = "ping"
    BYE = "bye"


@dataclass(slots=True)
class Message:
    agent_id: str
    data_type: str
    data: dict[str, Any]
    message_type: MessageType = MessageType.DATA
    assigns: dict[str, Any] = field(default_factory=dict)

    def assign(self, key: str, value: Any) -> "Message":
        """Attach per-message metadata (a handler's note for receivers); returns the message."""
        self.assigns[key] = value
        return self


def _load_metric_types() -> frozenset[str]:
    from poa_backend.models import MetricType

    return frozenset(MetricType.objects.values_list("name", flat=True))


metric_types: Snapshot[frozenset[str]] = Snapshot(_load_metric_types)


def is_metric_type(name: object) -> bool:
    """Whether ``name`` is a configured metric type (sync code)."""
    return isinstance(name, str) and name in metric_types.get()


async def ais_metric_type(name: object) -> bool:
    """Whether ``name`` is a configured metric type (async code)."""
    return isinstance(name, str) and name in await metric_types.aget()
