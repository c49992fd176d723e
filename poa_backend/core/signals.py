"""The seam between handlers and receivers: handlers send these, the receivers app listens.

Handlers never import receivers and receivers never import handlers; both import this.
"""

from django.dispatch import Signal

# A handler accepted a message: kwargs ``message`` (a poa_backend.core.message.Message) and
# ``deferred``. Sending it may raise ``DeliveryRefused``: the message was not taken, the
# handler must say so. With ``deferred`` true (the sender is on the event loop and awaits),
# a receiver may answer with an awaitable that completes once the message is safely queued
# (or raises ``DeliveryRefused``): durable receivers commit what one turn of the loop
# accepted together, instead of one disk write per message with the loop held.
message_received = Signal()


class DeliveryRefused(Exception):
    """A durable receiver cannot take the message now (its spool is full): nothing was kept.

    Raised out of ``HandlerPlugin.send_to_receivers``; the handler refuses the call with a
    temporary error (REST: 503 with Retry-After) so the agent sends it again later, rather than
    answering success for a message that would be lost. ``retry_after`` is in seconds.
    """

    def __init__(self, receiver: str, retry_after: int = 5) -> None:
        super().__init__(f"receiver {receiver}: spool full, message refused")
        self.receiver = receiver
        self.retry_after = retry_after

# An agent went quiet or left: kwargs ``agent_id``.
agent_inactive = Signal()

# Something for receivers outside the metric flow: kwargs ``payload`` and ``receiver``
# (a receiver name, or None for every running receiver).
out_of_band_message = Signal()

# The server process starts serving / is stopping: apps start and stop their workers.
backend_started = Signal()
backend_stopping = Signal()
