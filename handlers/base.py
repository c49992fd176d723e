"""The custom-handler plug-in contract: speak the POA Protocol on some transport,
turn calls into Messages, and hand them on.

Subclass ``CustomHandler``, serve routes (``http_urls`` / ``websocket_urls``),
check options in ``clean_options``, and add a row in the admin. See docs/handlers.md.
"""

from poa_backend.plugins import Plugin
from poa_backend.protocol import Message
from poa_backend.signals import agent_inactive, message_received


class CustomHandler(Plugin):
    kind = "custom handler"

    def send_to_receivers(self, message: Message) -> None:
        """Dispatch a message to every receiver subscribed to its metric type; never waits for them."""
        message_received.send(sender=type(self), message=message)

    def publish_inactive(self, agent_id: str) -> None:
        """Tell every receiver the agent is gone (it disconnected, said bye or went quiet)."""
        agent_inactive.send(sender=type(self), agent_id=agent_id)
