"""In-process fan-out of frames to the dashboards (and any other feed) connected to this process.

Receiver hooks run on the receiver's worker thread; sockets live on the server's
asyncio event loop. The hub learns the loop when the first subscriber arrives and
hands each batch over with one ``call_soon_threadsafe``; on the loop, each
subscriber gets the batch in its own ``Outbox``, bounded in frames and in bytes,
so one that falls behind is cut off alone instead of slowing the others.
"""

import asyncio
import logging
import time
import weakref
from collections import deque
from dataclasses import dataclass, fields

from prometheus_client import Counter

from poa_backend.core import metrics
from receivers.dashboard.backplane import Backplane

logger = logging.getLogger(__name__)

# Close codes: 4000 + the standard code they stand for (the WebSocket server sends only 1000 and
# 3000-4999). Each one tells the dashboard to reconnect and take a fresh catch-up.
#: The subscriber's outbox overflowed (1013, try again later).
OVERFLOW_CODE = 4013
#: The receiver stops: disabled, reconfigured, server stopping (1001, going away).
GOING_AWAY_CODE = 4001
#: Frames may have been missed: Redis was lost and is back, or a send failed (1011, server error).
FEED_LOST_CODE = 4011

FEED_EVENTS = Counter(
    "poa_dashboard_feed_events",
    "The dashboard feed's figures, summed over processes: frames_sent, frames_dropped (lost with an "
    "overflowed outbox), outboxes_overflowed, sends_failed, messages_unencodable, shares_failed (Redis).",
    ["receiver", "event"],
)


@dataclass(eq=False)
class FeedStats:
    """What one receiver's feed did in this process; ``flush`` adds it to ``/metrics``."""

    frames_sent: int = 0
    frames_dropped: int = 0
    outboxes_overflowed: int = 0
    sends_failed: int = 0
    messages_unencodable: int = 0
    shares_failed: int = 0

    def flush(self, receiver: str, flushed: dict[str, int]) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value != flushed.get(field.name, 0):
                FEED_EVENTS.labels(receiver=receiver, event=field.name).inc(
                    value - flushed.get(field.name, 0)
                )
                flushed[field.name] = value


_live_feeds: "weakref.WeakKeyDictionary[FeedStats, tuple[str, dict[str, int]]]" = weakref.WeakKeyDictionary()


def register_stats(receiver: str, stats: FeedStats) -> None:
    """Have ``stats`` reach ``/metrics`` every sample (counters are summed in bulk, not per frame)."""
    _live_feeds[stats] = (receiver, {})


def flush_stats(stats: FeedStats) -> None:
    """Add what ``stats`` counted since the last flush to ``/metrics`` now (a receiver stopping)."""
    receiver, flushed = _live_feeds.get(stats, ("", {}))
    if receiver:
        stats.flush(receiver, flushed)


def _flush_feeds() -> None:
    for stats in list(_live_feeds.keys()):
        flush_stats(stats)


metrics.register_sampler(_flush_feeds)


class FeedClosed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Outbox:
    """One subscriber's buffer of frames, at most ``limit`` frames and ``byte_limit`` bytes."""

    def __init__(self, limit: int, byte_limit: int) -> None:
        self.limit = limit
        self.byte_limit = byte_limit
        self.frames: deque[str] = deque()
        self.size = 0
        self.closed_code: int | None = None
        #: The loss epoch of this subscriber's catch-up (see ``Backplane.acatchup``).
        self.epoch = -1
        self._ready = asyncio.Event()

    def put(self, frames: list[str], size: int) -> int:
        """Queue ``frames`` (``size`` bytes); on overflow drop all, close, and return how many were lost."""
        if self.closed_code is not None:
            return len(frames)
        if len(self.frames) + len(frames) > self.limit or self.size + size > self.byte_limit:
            lost = len(self.frames) + len(frames)
            self.frames.clear()
            self.size = 0
            self.close(OVERFLOW_CODE)
            return lost
        self.frames.extend(frames)
        self.size += size
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
        self.size = 0
        return frames


def frames_size(frames: list[str]) -> int:
    """Bytes the frames take as UTF-8 text (every frame was checked to encode)."""
    return sum(len(frame) if frame.isascii() else len(frame.encode("utf-8")) for frame in frames)


class Hub:
    """The subscribers of one receiver in this process, and the hand-over from its worker thread."""

    def __init__(self, stats: FeedStats, backplane: Backplane) -> None:
        self.stats = stats
        self.backplane = backplane
        self.outboxes: set[Outbox] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._share_failure_logged = float("-inf")

    # On the event loop.

    async def subscribe(self, outbox: Outbox) -> list[str]:
        """Start giving ``outbox`` every frame (from this process and, with Redis, from the others);
        returns the catch-up to send first. Raises when the feed is unavailable (Redis away).

        Subscribed before the catch-up is read: a frame in between may come twice, never not at all.
        """
        self.loop = asyncio.get_running_loop()
        await self.backplane.listen(self.fan_out, self._missed)
        self.outboxes.add(outbox)
        try:
            frames, outbox.epoch = await self.backplane.acatchup()
        except BaseException:
            self.outboxes.discard(outbox)
            raise
        return frames

    def unsubscribe(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)

    def fan_out(self, frames: list[str]) -> None:
        size = frames_size(frames)
        for outbox in list(self.outboxes):
            lost = outbox.put(frames, size)
            if lost:
                self.outboxes.discard(outbox)
                self.stats.frames_dropped += lost
                self.stats.outboxes_overflowed += 1
                logger.warning("dashboard feed: a subscriber fell %d frames behind; disconnecting it", lost)

    def close_all(self, code: int) -> None:
        for outbox in self.outboxes:
            outbox.close(code)
        self.outboxes.clear()

    def _missed(self, epoch: int | None) -> None:
        """Subscribers may have missed frames (all of them, or those whose catch-up is older than
        ``epoch``): they are closed, so they reconnect and catch up."""
        for outbox in list(self.outboxes):
            if epoch is None or outbox.epoch < epoch:
                outbox.close(FEED_LOST_CODE)
                self.outboxes.discard(outbox)

    # On the receiver's worker thread.

    def publish(self, frames: list[str], latest: dict[str, dict[str, str]]) -> None:
        """Remember the catch-up frames, share with other processes, and fan out here.

        A failure to share (Redis away) is counted and logged, never raised: this
        process's dashboards still get the frames, and the backplane writes the
        catch-up when Redis is back.
        """
        if not frames:
            return
        try:
            self.backplane.share(frames, latest)
        except Exception as exc:
            self.stats.shares_failed += 1
            now = time.monotonic()
            if now - self._share_failure_logged > 10:
                self._share_failure_logged = now
                logger.warning("dashboard feed: could not share frames with other processes: %s", exc)
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
