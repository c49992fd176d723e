"""The custom-handler plug-in contract: speak a protocol on some transport, turn what agents
send into Messages, and hand them on.

Subclass ``HandlerPlugin``, serve routes (``http_urls`` / ``websocket_urls``), check
options in ``clean_options``, and add a row in the admin. Validate what agents send
with ``poa_backend.core.intake``; tell presence an agent is alive with ``ping`` and
that it left with ``publish_inactive``. See docs/handlers.md.
"""

import inspect

from poa_backend.core.message import Message
from poa_backend.core.plugins import Plugin
from poa_backend.core.presence import monitor
from poa_backend.core.signals import message_received


class HandlerPlugin(Plugin):
    kind = "custom handler"

    def send_to_receivers(self, message: Message) -> None:
        """Dispatch a message to every receiver subscribed to its metric type; never waits for them.

        Raises ``poa_backend.core.signals.DeliveryRefused`` when a durable receiver cannot take
        it (its spool is full): nothing was kept, so the handler must not answer success."""
        message_received.send(sender=type(self), message=message, deferred=False)

    async def asend_to_receivers(self, message: Message) -> None:
        """``send_to_receivers`` from the event loop: returns once every durable receiver has
        the message (raising ``DeliveryRefused`` when one cannot take it); the loop serves
        other connections meanwhile, and their messages share the disk write."""
        for _, pending in message_received.send(sender=type(self), message=message, deferred=True):
            if inspect.isawaitable(pending):
                await pending

    def ping(self, agent_id: str) -> None:
        """The agent is alive: start or refresh its active period (it goes inactive once when quiet)."""
        monitor.ping(agent_id)

    async def aping(self, agent_id: str) -> None:
        """``ping`` from async code."""
        await monitor.aping(agent_id)

    def publish_inactive(self, agent_id: str) -> None:
        """The agent left (bye, disconnect): receivers hear it is inactive, once per active period.

        Goes through presence, so the period's deadline passing later fires nothing more.
        """
        monitor.bye(agent_id)

    async def apublish_inactive(self, agent_id: str) -> None:
        """``publish_inactive`` from async code."""
        await monitor.abye(agent_id)
