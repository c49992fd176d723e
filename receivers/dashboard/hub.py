"""In-process fan-out of frames to the dashboards (and any other feed) connected to this process.

Receiver hooks run on the receiver's worker thread; sockets live on the server's
asyncio event loop. The hub learns the loop when the first subscriber arrives and
hands each batch over with one ``call_soon_threadsafe``; on the loop, each
subscriber gets the batch in its own bounded ``Outbox``, so one that falls behind
is cut off alone instead of slowing the others.
"""

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from receivers.dashboard.backplane import Backplane

logger = logging.getLogger(__name__)

#: Close code for a subscriber whose outbox overflowed ("try again later": reconnect and catch up).
OVERFLOW_CODE = 1013
#: Close code when the receiver stops (disabled, reconfigured, server stopping).
GOING_AWAY_CODE = 1001
#: Close code when the frames of other processes stopped arriving (Redis lost): reconnect and catch up.
FEED_LOST_CODE = 1011


@dataclass
class FeedStats:
    """Counters kept by the receiver (read by the admin and metrics)."""

    dashboards_connected: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    outboxes_overflowed: int = 0
    messages_unencodable: int = 0


class FeedClosed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Outbox:
    """One subscriber's bounded buffer of frames, filled by the hub on the event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.frames: deque[str] = deque()
        self.closed_code: int | None = None
        self._ready = asyncio.Event()

    def put(self, frames: list[str]) -> int:
        """Queue ``frames``; on overflow drop everything queued, close, and return how many were lost."""
        if self.closed_code is not None:
            return len(frames)
        if len(self.frames) + len(frames) > self.limit:
            lost = len(self.frames) + len(frames)
            self.frames.clear()
            self.close(OVERFLOW_CODE)
            return lost
        self.frames.extend(frames)
        self._ready.set()
        return 0

    def close(self, code: int) -> None:
        """No more frames: ``get`` raises ``FeedClosed(code)`` once what is queued is taken."""
        if self.closed_code is None:
            self.closed_code = code
        self._ready.set()

    async def get(self) -> list[str]:
        """Every frame queued since the last call (waits for one); raises FeedClosed when closed."""
        while not self.frames:
            if self.closed_code is not None:
                raise FeedClosed(self.closed_code)
            self._ready.clear()
            await self._ready.wait()
        frames = list(self.frames)
        self.frames.clear()
        return frames


class Hub:
    """The subscribers of one receiver in this process, and the hand-over from its worker thread."""

    def __init__(self, stats: FeedStats, backplane: Backplane) -> None:
        self.stats = stats
        self.backplane = backplane
        self.outboxes: set[Outbox] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    # On the event loop.

    async def subscribe(self, outbox: Outbox) -> None:
        """Start giving ``outbox`` every frame (from this process and, with Redis, from the others)."""
        self.loop = asyncio.get_running_loop()
        await self.backplane.listen(self.fan_out, self._feed_lost)
        self.outboxes.add(outbox)

    def unsubscribe(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)

    def fan_out(self, frames: list[str]) -> None:
        for outbox in list(self.outboxes):
            lost = outbox.put(frames)
            if lost:
                self.outboxes.discard(outbox)
                self.stats.frames_dropped += lost
                self.stats.outboxes_overflowed += 1
                logger.warning("dashboard feed: a subscriber fell %d frames behind; disconnecting it", lost)

    def close_all(self, code: int) -> None:
        for outbox in self.outboxes:
            outbox.close(code)
        self.outboxes.clear()

    def _feed_lost(self) -> None:
        self.close_all(FEED_LOST_CODE)

    # On the receiver's worker thread.

    def publish(self, frames: list[str], latest: dict[str, dict[str, str]]) -> None:
        """Remember the catch-up frames, share with other processes, and fan out here."""
        if not frames:
            return
        try:
            self.backplane.share(frames, latest)
        finally:
            self._hand_over(self.fan_out, frames)

    def shutdown(self) -> None:
        """Close this process's subscribers and stop listening (the receiver is terminating)."""
        self._hand_over(self.close_all, GOING_AWAY_CODE)
        loop = self.loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.backplane.stop_listening(), loop)
        self.backplane.close()

    def _hand_over(self, callback: object, argument: object) -> None:
        loop = self.loop
        if loop is None:
            return  # nobody has subscribed in this process yet
        try:
            loop.call_soon_threadsafe(callback, argument)
        except RuntimeError:  # the loop is closed: the server is gone
            pass
