"""The seam between handlers and receivers: handlers send these, the receivers app listens.

Handlers never import receivers and receivers never import handlers; both import this.
"""

from django.dispatch import Signal

# A handler accepted a message: kwargs ``message`` (a poa_backend.core.message.Message).
message_received = Signal()

# An agent went quiet or left: kwargs ``agent_id``.
agent_inactive = Signal()

# Something for receivers outside the metric flow: kwargs ``payload`` and ``receiver``
# (a receiver name, or None for every running receiver).
out_of_band_message = Signal()

# The server process starts serving / is stopping: apps start and stop their workers.
backend_started = Signal()
backend_stopping = Signal()
