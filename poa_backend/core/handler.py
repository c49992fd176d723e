"""The custom-handler plug-in contract: speak a protocol on some transport, turn what agents
send into Messages, and hand them on.

Subclass ``HandlerPlugin``, serve routes (``http_urls`` / ``websocket_urls``), check
options in ``clean_options``, and add a row in the admin. Validate what agents send
with ``poa_backend.core.intake``; tell presence an agent is alive with ``ping`` and
that it left with ``publish_inactive``. See docs/handlers.md.
"""

import inspect
from collections.abc import Awaitable

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

    def send_to_receivers_soon(self, message: Message) -> Awaitable[None] | None:
        """``send_to_receivers`` from the event loop, without waiting: the message is dispatched
        now (``DeliveryRefused`` at once when a durable receiver has no room), and the
        awaitable returned completes once every durable receiver has it on disk (raising
        ``DeliveryRefused`` if a spool could not be written); None when there is nothing to
        wait for. A socket handler reads its connection's next call meanwhile and answers
        each call only once its awaitable completed, in the order the calls came."""
        pending = [
            result
            for _, result in message_received.send(sender=type(self), message=message, deferred=True)
            if inspect.isawaitable(result)
        ]
        if not pending:
            return None
        return pending[0] if len(pending) == 1 else _every(pending)

    async def asend_to_receivers(self, message: Message) -> None:
        """``send_to_receivers`` from the event loop: returns once every durable receiver has
        the message (raising ``DeliveryRefused`` when one cannot take it); the loop serves
        other connections meanwhile, and their messages share the disk write."""
        pending = self.send_to_receivers_soon(message)
        if pending is not None:
            await pending

    def ping(self, agent_id: str, timeout: float | None = None) -> None:
        """The agent is alive: start or refresh its active period (it goes inactive once when
        quiet for ``timeout`` seconds, ``INACTIVITY_TIMEOUT`` by default)."""
        monitor.ping(agent_id, timeout)

    async def aping(self, agent_id: str, timeout: float | None = None) -> None:
        """``ping`` from async code."""
        await monitor.aping(agent_id, timeout)

    def publish_inactive(self, agent_id: str) -> None:
        """The agent left (bye, disconnect): receivers hear it is inactive, once per active period.

        Goes through presence, so the period's deadline passing later fires nothing more.
        """
        monitor.bye(agent_id)

    async def apublish_inactive(self, agent_id: str) -> None:
        """``publish_inactive`` from async code."""
        await monitor.abye(agent_id)


async def _every(pending: list[Awaitable[None]]) -> None:
    for awaitable in pending:
        await awaitable
