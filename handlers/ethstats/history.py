"""History requests: ask a node for recent blocks this process has not seen, as eth-netstats does.

Blocks are known when any handler of this process accepted them (a ``block`` or a
``history`` message, from an ethstats node or a POA agent): the ``message_received``
signal tells. A node that said ``canUpdateHistory`` and reported its best block is
asked, right after one of its ``latency`` messages and at most once per
``REQUEST_INTERVAL``, for the missing heights among the ``MAX_REQUEST`` below its best.
"""

import threading
import time
from collections import deque
from typing import Any

from poa_backend.core.message import Message
from poa_backend.core.signals import message_received

#: Heights asked for at most, ending just below the node's best (eth-netstats asks for 50).
MAX_REQUEST = 50
#: Seconds between two requests to one node (eth-netstats: 2 minutes).
REQUEST_INTERVAL = 120.0
#: Heights remembered (eth-netstats keeps 2,000 blocks).
REMEMBERED = 2000


class KnownBlocks:
    """The most recent ``REMEMBERED`` block heights this process accepted."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._numbers: set[int] = set()
        self._order: deque[int] = deque()
        self._size = size
        self._lock = threading.Lock()

    def add(self, number: object) -> None:
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            return
        with self._lock:
            if number in self._numbers:
                return
            self._numbers.add(number)
            self._order.append(number)
            while len(self._order) > self._size:
                self._numbers.discard(self._order.popleft())

    def missing_below(self, best: int, count: int = MAX_REQUEST) -> list[int]:
        """Heights from ``best - count`` to ``best - 1`` not seen, ascending."""
        with self._lock:
            return [number for number in range(max(0, best - count), best) if number not in self._numbers]


known_blocks = KnownBlocks()


def _remember(sender: object, message: Message, **kwargs: Any) -> None:
    data = message.data
    if message.data_type != "ethereum_metrics" or not isinstance(data, dict):
        return
    body = data.get("body")
    if data.get("type") == "block" and isinstance(body, dict):
        known_blocks.add(body.get("number"))
    elif data.get("type") == "history" and isinstance(body, dict) and isinstance(body.get("history"), list):
        for block in body["history"]:
            if isinstance(block, dict):
                known_blocks.add(block.get("number"))


message_received.connect(_remember, dispatch_uid="handlers.ethstats.history")


class HistoryPlanner:
    """One node's requests: what to ask for after its ``latency``, if anything."""

    def __init__(self, can_update: bool) -> None:
        self.can_update = can_update
        self.best: int | None = None
        self._asked_at = float("-inf")

    def saw_block(self, number: object) -> None:
        if isinstance(number, int) and number > (self.best or -1):
            self.best = number

    def after_latency(self) -> list[int]:
        """The heights to ask for now (empty: no request)."""
        if not self.can_update or self.best is None:
            return []
        now = time.monotonic()
        if now - self._asked_at < REQUEST_INTERVAL:
            return []
        numbers = known_blocks.missing_below(self.best)
        if numbers:
            self._asked_at = now
        return numbers
