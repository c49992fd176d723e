"""The receiver plug-in contract: consume the messages of the metric types a row subscribes to.

Each running receiver has its own bounded queue and worker thread; every hook
below is called on that thread, one at a time, in the order events arrived, so a
hook may block (database, network) without slowing agents or other receivers.
Every hook does nothing by default: override what you need. See docs/receivers.md.
"""

from typing import Any

from poa_backend.plugins import Plugin
from poa_backend.protocol import Message


class Receiver(Plugin):
    kind = "receiver"

    #: Per-class defaults for the queue bound and the largest batch (options may override).
    queue_size: int | None = None
    batch_size: int | None = None

    def setup(self) -> None:
        """Initialise from ``self.options`` (open connections); runs on the worker before any batch."""

    def handle_messages(self, messages: list[Message]) -> None:
        """A batch of messages of subscribed metric types, in arrival order (per agent: send order)."""

    def handle_inactive(self, agent_id: str) -> None:
        """The agent went quiet or left."""

    def handle_out_of_band(self, payload: Any) -> None:
        """Something sent to receivers outside the metric flow."""

    def terminate(self) -> None:
        """Close connections; runs on the worker after its queue is drained or dropped."""
