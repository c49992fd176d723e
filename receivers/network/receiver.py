"""The ``network`` receiver: keeps the network view from ``ethereum_metrics``, ``networking_metrics``
and inactive events.

Options: ``network`` (the name alerts and ``/metrics`` label it with, default
``"poa"``), ``max_nodes`` (default 500) and ``max_blocks`` (default 64): the
bounds of what it keeps. See docs/alerts.md.
"""

import time
from typing import Any

from django.core.exceptions import ValidationError

from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin
from receivers.network import metrics, reports
from receivers.network.store import Store, store_for
from receivers.network.view import RECENT_BLOCKS, Network, compute

DEFAULTS = {"network": "poa", "max_nodes": 500, "max_blocks": 64}


class NetworkReceiver(ReceiverPlugin):
    """One pipeline (or one lock) per batch: cheap enough to sit beside the dashboard feed."""

    #: Health moves in seconds: under load a batch every quarter second (every node in it one
    #: write of each kind to the store, whatever it sent meanwhile), not one per message.
    linger = 0.25

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        options = {**DEFAULTS, **options}
        if not isinstance(options["network"], str) or not 0 < len(options["network"]) <= 64:
            raise ValidationError("network: must be a name of 1 to 64 characters")
        for key, least in (("max_nodes", 1), ("max_blocks", RECENT_BLOCKS + 1)):
            value = options[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValidationError(f"{key}: must be an integer of at least {least}")
        return options

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(name, options)
        self.store: Store = store_for(name, self.options["max_nodes"], self.options["max_blocks"])
        metrics.register()

    @property
    def network(self) -> str:
        return self.options["network"]

    def handle_messages(self, messages: list[Message]) -> None:
        read = [report for report in map(reports.read, messages) if report is not None]
        self.store.record(read)

    def handle_inactive_agents(self, agent_ids: list[str]) -> None:
        self.store.inactive(agent_ids, time.time())

    def terminate(self) -> None:
        self.store.close()

    def view(self) -> Network:
        return compute(self.store.snapshot(), self.network)


def running() -> NetworkReceiver | None:
    """The network receiver running in this process (the first by name, if there are several)."""
    from receivers.dispatch import dispatcher

    receivers = [plugin for plugin in dispatcher.plugins() if isinstance(plugin, NetworkReceiver)]
    return min(receivers, key=lambda receiver: receiver.name, default=None)
