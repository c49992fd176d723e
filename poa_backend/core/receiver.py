"""The receiver plug-in contract: consume the messages of the metric types a row subscribes to.

Each running receiver has its own bounded queue and worker thread; every hook
below is called on that thread, one at a time, in the order events arrived, so a
hook may block (database, network) without slowing agents or other receivers.
Every hook does nothing by default: override what you need. See docs/receivers.md.
"""

import threading
from typing import Any

from django.core.exceptions import ValidationError

from poa_backend.core.lifecycle import SERVICE_AWAY
from poa_backend.core.message import Message
from poa_backend.core.plugins import Plugin


class Stopping(Exception):
    """Raised out of a hook that was waiting when its receiver was told to stop."""


class TransientError(Exception):
    """Raised by a hook when its sink is away for now (outage, throttling): the batch is retried."""


class ReceiverPlugin(Plugin):
    kind = "receiver"

    #: Per-class defaults for the queue bound and the largest batch (options may override).
    queue_size: int | None = None
    batch_size: int | None = None
    #: Seconds a batch that is not full may wait for more messages: fewer, larger batches
    #: under light load, at the cost of up to that much delay (option ``linger``).
    linger: float = 0.0
    #: A durable receiver's messages are spooled to disk before the handler answers and removed
    #: only once ``handle_messages`` returned; a transient failure is retried with back-off and a
    #: message the sink refuses goes to the dead letters (docs/receivers.md, "Durable receivers").
    #: A row's option ``durable`` overrides it (false: speed over durability, memory queue only).
    durable: bool = False
    #: The kinds of message (``data["type"]``: ``statistics``, ``block``, ...) of its metric
    #: types that it takes; None: every one. The dispatcher queues, and a durable receiver
    #: spools, only these: a sink that stores one kind never pays for the others.
    kinds: frozenset[str] | None = None

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The listener keys, and the queue's: ``queue_size``, ``batch_size``, ``linger``."""
        options = super().clean_options(options)
        for key in ("queue_size", "batch_size"):
            value = options.get(key, 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValidationError(f"{key}: must be a positive integer")
        if not isinstance(options.get("durable", False), bool):
            raise ValidationError("durable: must be true or false")
        linger = options.get("linger", 0)
        if not isinstance(linger, int | float) or isinstance(linger, bool) or not 0 <= linger <= 60:
            raise ValidationError("linger: must be a number of seconds from 0 to 60")
        return options

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(name, options)
        #: Set when this instance is being stopped or replaced (``wait`` returns at once then).
        self.stopping = threading.Event()

    def wait(self, seconds: float) -> None:
        """Pause a hook (a retry's back-off) for ``seconds``; raises ``Stopping`` as soon as the
        receiver is stopped or replaced, so it never keeps retrying beside its successor."""
        if self.stopping.wait(seconds):
            raise Stopping()

    @property
    def is_durable(self) -> bool:
        """The class's ``durable``, unless the row's options say otherwise."""
        return bool(self.options.get("durable", self.durable))

    def is_transient(self, exc: Exception) -> bool:
        """Whether a hook's failure is the sink being away (retry later) rather than the message
        being refused (a dead letter): connection lost or refused, timeouts, a database outage."""
        return isinstance(exc, (TransientError, *SERVICE_AWAY))

    def figures(self) -> dict[str, float]:
        """What this receiver counts for operators (rows stored, retries...): shown in the admin's
        receiver list and in ``/metrics`` as ``poa_receiver_figure``. Read from other threads."""
        return {}

    def setup(self) -> None:
        """Initialise from ``self.options`` (open connections); runs on the worker before any batch."""

    def handle_messages(self, messages: list[Message]) -> None:
        """A batch of messages of subscribed metric types, in arrival order (per agent: send order)."""

    def handle_inactive(self, agent_id: str) -> None:
        """The agent went quiet or left."""

    def handle_inactive_agents(self, agent_ids: list[str]) -> None:
        """Agents that went quiet or left one after another (nodes dropping together): by default
        ``handle_inactive`` for each; override to handle them in one go."""
        for agent_id in agent_ids:
            self.handle_inactive(agent_id)

    def handle_out_of_band(self, payload: Any) -> None:
        """Something sent to receivers outside the metric flow."""

    def terminate(self) -> None:
        """Close connections; runs on the worker after its queue is drained or dropped."""
