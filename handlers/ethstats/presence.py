"""A node's presence while it is connected: active while it speaks, inactive once when it stops.

go-ethereum reports every 15 s, longer than presence's ``INACTIVITY_TIMEOUT`` (7 s for
POA agents), so a node is kept active here by its frames and its own timeout
(``inactivity_timeout``, default 45 s): presence is pinged with that timeout, a third of
it apart while the node is within it; once it is silent that long, or its last connection
closes, it is inactive at once, through presence, so exactly once per active period. If
this process dies, presence itself ends the period within that timeout. A node may
hold several connections in a process (a reconnect before the old socket is seen
gone): the node is left only when the last one closes.
"""

import asyncio
import logging
import time

from redis.exceptions import RedisError

from poa_backend.core.handler import HandlerPlugin

logger = logging.getLogger(__name__)


class NodePresence:
    """One node id's connections in this process and its active period."""

    def __init__(self, handler: HandlerPlugin, node_id: str, timeout: float) -> None:
        self.handler = handler
        self.node_id = node_id
        self.timeout = timeout
        self.connections: set[object] = set()
        self.active = False
        self.heard_at = time.monotonic()
        self._pinged_at = float("-inf")
        self._keeper: asyncio.Task | None = None

    @property
    def ping_interval(self) -> float:
        """A third of the timeout: two pings may be lost before presence's deadline passes."""
        return max(0.2, self.timeout / 3)

    async def heard(self) -> None:
        """An accepted frame: the node is active (a new period if it was not)."""
        self.heard_at = now = time.monotonic()
        if not self.active or now - self._pinged_at >= self.ping_interval:
            await self._ping()

    async def _ping(self) -> None:
        self.active = True
        self._pinged_at = time.monotonic()
        try:
            await self.handler.aping(self.node_id, self.timeout)
        except RedisError:
            logger.warning("ethstats: presence unavailable, %s not refreshed", self.node_id)

    async def _inactive(self) -> None:
        self.active = False
        try:
            await self.handler.apublish_inactive(self.node_id)
        except RedisError:  # presence's own timeout declares it once Redis is back
            logger.warning("ethstats: presence unavailable, %s not declared inactive", self.node_id)

    async def _keep(self) -> None:
        while True:
            now = time.monotonic()
            if self.active and now - self.heard_at >= self.timeout:
                await self._inactive()
            elif self.active and now - self._pinged_at >= self.ping_interval:
                await self._ping()
            await asyncio.sleep(self._seconds_to_next_check())

    def _seconds_to_next_check(self) -> float:
        if not self.active:
            return self.ping_interval
        due = min(self._pinged_at + self.ping_interval, self.heard_at + self.timeout)
        return max(0.05, due - time.monotonic())

    def start(self) -> None:
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep())

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        if self.active:
            await self._inactive()


_nodes: dict[str, NodePresence] = {}


def join(handler: HandlerPlugin, node_id: str, connection: object, timeout: float) -> NodePresence:
    """The node's presence, with ``connection`` counted among its connections."""
    node = _nodes.get(node_id)
    if node is None:
        node = _nodes[node_id] = NodePresence(handler, node_id, timeout)
        node.start()
    node.connections.add(connection)
    return node


async def leave(node: NodePresence, connection: object) -> None:
    """``connection`` closed; the node goes inactive if it was its last."""
    node.connections.discard(connection)
    if node.connections or _nodes.get(node.node_id) is not node:
        return
    del _nodes[node.node_id]
    await node.stop()
