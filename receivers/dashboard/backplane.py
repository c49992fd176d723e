"""What the processes of one backend share for a dashboard receiver: catch-up frames and live frames.

Without Redis there is one process: the latest frames live in memory and are
saved in the data directory when the receiver stops, so a restart keeps them.
With ``REDIS_URL`` every process keeps the latest frames in one Redis hash per
kind (agent id -> frame) beside a sorted set of when each agent was last seen,
publishes each batch once on one Redis channel tagged with its origin, and runs
one subscription that hands the other processes' batches to its local hub (its
own come back too and are skipped). One subscription per process, not one per
dashboard: Redis and the server stay quiet however many dashboards connect.

Either way the catch-up is bounded (``Bounds``): at most so many agents, none
seen longer ago than the maximum age.
"""

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from receivers.dashboard.frames import CATCHUP_KINDS, stored_frame

logger = logging.getLogger(__name__)

Latest = dict[str, dict[str, str]]  # kind -> agent id -> frame
Deliver = Callable[[list[str]], None]
Missed = Callable[[int | None], None]
#: How a published batch that stands for lost frames starts (a frame always starts with "{").
LOST_MARKER = "lost "

#: Seconds between attempts to subscribe again after Redis was lost (doubling up to the second).
RESUBSCRIBE_PAUSES = (0.25, 5.0)
#: Seconds between prunes of the Redis catch-up by one process.
PRUNE_INTERVAL = 1.0
#: Seconds a process stops trying to share after Redis failed (its own dashboards are fed meanwhile).
SHARE_RETRY_PAUSE = 1.0
#: Bounds on waiting for Redis, so an unreachable one delays nothing for long.
CLIENT_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2.0, "health_check_interval": 15}


@dataclass(frozen=True)
class Bounds:
    """How much catch-up is kept: ``agents`` most recently seen, none seen over ``max_age``
    seconds ago, and at most ``size`` bytes of frames (UTF-8; the least recently seen go first)."""

    agents: int
    max_age: float
    size: int = 64 * 1024 * 1024


def _size(frame: str) -> int:
    return len(frame.encode("utf-8"))


class Catchup:
    """The latest catch-up frames of each agent, with when it was last seen, within ``Bounds``."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        self._agents: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()  # oldest first
        self.size = 0  # bytes of frames kept

    def __len__(self) -> int:
        return len(self._agents)

    def put(self, agent_id: str, kind: str, frame: str, seen: float) -> None:
        _, frames = self._agents.pop(agent_id, (seen, {}))
        self.size += _size(frame) - _size(frames.get(kind, ""))
        frames[kind] = frame
        self._agents[agent_id] = (seen, frames)

    def _forget_oldest(self) -> None:
        _, (_, frames) = self._agents.popitem(last=False)
        self.size -= sum(map(_size, frames.values()))

    def update(self, latest: Latest, seen: float) -> None:
        for kind, frames in latest.items():
            for agent_id, frame in frames.items():
                self.put(agent_id, kind, frame, seen)
        self.prune(seen)

    def prune(self, now: float) -> None:
        """Forget agents seen longer than ``max_age`` ago, then the least recently seen over ``agents``."""
        oldest_kept = now - self.bounds.max_age
        while self._agents and next(iter(self._agents.values()))[0] < oldest_kept:
            self._forget_oldest()
        while len(self._agents) > self.bounds.agents or self.size > self.bounds.size:
            self._forget_oldest()

    def knows(self, agent_id: str, now: float) -> bool:
        self.prune(now)
        return agent_id in self._agents

    def frames(self, now: float) -> list[str]:
        """What a dashboard connecting now gets: per agent (sorted by id), information then statistics."""
        self.prune(now)
        return [
            frames[kind]
            for agent_id, (_, frames) in sorted(self._agents.items())
            for kind in CATCHUP_KINDS
            if kind in frames
        ]

    def take(self) -> dict[str, tuple[float, dict[str, str]]]:
        """Every entry, leaving this empty."""
        entries, self._agents = dict(self._agents), OrderedDict()
        self.size = 0
        return entries

    def restore(self, entries: dict[str, tuple[float, dict[str, str]]]) -> None:
        """Put back what ``take`` gave, under anything newer put since."""
        for agent_id, (seen, frames) in entries.items():
            newer = self._agents.get(agent_id)
            self._agents[agent_id] = (seen, frames) if newer is None else (newer[0], {**frames, **newer[1]})
        self._agents = OrderedDict(sorted(self._agents.items(), key=lambda item: item[1][0]))
        self.size = sum(_size(frame) for _, frames in self._agents.values() for frame in frames.values())

    def load(self, entries: Iterable[tuple[Any, Any, Any, Any]], now: float) -> None:
        """Add ``(agent_id, seen, kind, frame)`` read from storage, skipping what a dashboard cannot take."""
        good = []
        for agent_id, seen, kind, frame in entries:
            if isinstance(agent_id, bytes):
                with contextlib.suppress(UnicodeDecodeError):
                    agent_id = agent_id.decode("utf-8")
            if not isinstance(agent_id, str) or kind not in CATCHUP_KINDS:
                continue
            frame = stored_frame(frame, agent_id)
            if frame is None:
                logger.warning("dashboard feed: skipping an unreadable saved catch-up frame of %r", agent_id)
                continue
            dated = isinstance(seen, int | float) and not isinstance(seen, bool)
            good.append((seen if dated else now, kind, agent_id, frame))
        for seen, kind, agent_id, frame in sorted(good, key=lambda entry: entry[0]):
            self.put(agent_id, kind, frame, min(seen, now))
        self.prune(now)

    def dump(self) -> dict[str, Any]:
        return {
            "agents": {
                agent_id: {"seen": seen, **frames} for agent_id, (seen, frames) in self._agents.items()
            }
        }

    def load_dump(self, saved: Any, now: float) -> None:
        """Read ``dump()``'s shape, or the older ``{kind: {agent_id: frame}}`` (dated now)."""
        if not isinstance(saved, dict):
            return
        agents = saved.get("agents")
        if isinstance(agents, dict):
            entries = [
                (agent_id, entry.get("seen"), kind, entry.get(kind))
                for agent_id, entry in agents.items()
                if isinstance(entry, dict)
                for kind in CATCHUP_KINDS
                if kind in entry
            ]
        else:
            entries = [
                (agent_id, now, kind, frame)
                for kind in CATCHUP_KINDS
                if isinstance(saved.get(kind), dict)
                for agent_id, frame in saved[kind].items()
            ]
        self.load(entries, now)


class Backplane:
    """Sharing; ``share``, ``known`` and ``close`` run on the worker thread, the rest on the loop."""

    def share(self, frames: list[str], latest: Latest) -> None:
        """Remember the newest catch-up frames and pass ``frames`` to the other processes (may raise)."""

    def known(self, agent_ids: list[str]) -> set[str]:
        """Those of ``agent_ids`` with a catch-up entry (an inactive frame for them means something)."""
        return set()

    async def acatchup(self) -> tuple[list[str], int]:
        """The catch-up frames a dashboard connecting now gets, in order, and the loss epoch they include.

        The epoch counts the times a process could not publish frames (see ``listen``);
        a catch-up of epoch ``e`` holds every frame those losses up to ``e`` missed.
        """
        return [], 0

    async def listen(self, deliver: Deliver, missed: Missed) -> None:
        """Hand every batch another process publishes to ``deliver``; returns once that works.

        ``missed`` is called on the loop when dashboards may have missed frames:
        ``missed(None)`` when this process's subscription came back after a loss,
        ``missed(e)`` when another process could not publish some frames, which the
        catch-ups of epoch ``e`` and later hold.
        """

    async def stop_listening(self) -> None:
        """Stop handing batches over."""

    def close(self) -> None:
        """Release connections and keep what must survive a restart."""


_remembered: dict[str, Catchup] = {}
_remembered_lock = threading.Lock()


class LocalBackplane(Backplane):
    """One process: catch-up frames in memory (kept per receiver name across rebuilds) and in a file."""

    def __init__(self, name: str, path: Path, bounds: Bounds) -> None:
        self.name = name
        self.path = path
        self.bounds = bounds

    def _state(self) -> Catchup:
        state = _remembered.get(self.name)
        if state is None:
            state = _remembered.setdefault(self.name, self._load())
        state.bounds = self.bounds  # the options may have changed since the last instance
        return state

    def _load(self) -> Catchup:
        state = Catchup(self.bounds)
        try:
            state.load_dump(json.loads(self.path.read_text()), time.time())
        except FileNotFoundError:
            pass
        except (OSError, ValueError, RecursionError) as exc:
            logger.warning("dashboard %s: ignoring unreadable %s: %s", self.name, self.path, exc)
        return state

    def share(self, frames: list[str], latest: Latest) -> None:
        with _remembered_lock:
            self._state().update(latest, time.time())

    def known(self, agent_ids: list[str]) -> set[str]:
        now = time.time()
        with _remembered_lock:
            state = self._state()
            return {agent_id for agent_id in agent_ids if state.knows(agent_id, now)}

    async def acatchup(self) -> tuple[list[str], int]:
        with _remembered_lock:
            return self._state().frames(time.time()), 0

    def close(self) -> None:
        with _remembered_lock:
            state = self._state()
            state.prune(time.time())
            saved = json.dumps(state.dump())
        try:
            partial = self.path.with_suffix(".tmp")
            partial.write_text(saved)
            partial.replace(self.path)
        except OSError as exc:
            logger.warning("dashboard %s: could not save the catch-up frames: %s", self.name, exc)


class RedisBackplane(Backplane):
    """Several processes: catch-up frames in Redis hashes, live frames over one Redis channel.

    Frames this process could not write while Redis was away are kept (within the
    bounds) and written as soon as Redis answers again, so every process's catch-up
    has them.
    """

    def __init__(self, url: str, prefix: str, name: str, bounds: Bounds) -> None:
        self.url = url
        self.bounds = bounds
        base = f"{prefix}:dashboard:{name}"
        self.channel = f"{base}:frames"
        self.keys = {kind: f"{base}:latest:{kind}" for kind in CATCHUP_KINDS}
        self.seen_key = f"{base}:seen"
        self.epoch_key = f"{base}:lost"
        self.origin = uuid.uuid4().hex
        self._unshared = Catchup(bounds)
        self._unshared_lock = threading.Lock()
        self._next_prune = 0.0
        self._share_again_at = 0.0
        self._renew_expiry_at = 0.0
        #: Keys written (so existing, with an expiry) since the last renewal of every key's.
        self._expiring: set[str] = set()
        self._missed_frames = False  # a batch the other processes never got: tell them when Redis is back
        self._client: redis.Redis | None = None
        self._aclient: redis.asyncio.Redis | None = None
        self._listener: asyncio.Task | None = None
        self._listening: asyncio.Future | None = None

    def _queue_writes(self, pipe: Any, entries: dict[str, tuple[float, dict[str, str]]]) -> None:
        """Queue on ``pipe`` (sync or asyncio) the writes of ``entries``, and the keys' expiry."""
        if not entries:
            return
        written = [self.seen_key]
        for kind, key in self.keys.items():
            mapping = {agent_id: frames[kind] for agent_id, (_, frames) in entries.items() if kind in frames}
            if mapping:
                pipe.hset(key, mapping=mapping)
                written.append(key)
        pipe.zadd(self.seen_key, {agent_id: seen for agent_id, (seen, _) in entries.items()})
        # A backend that stopped for good leaves nothing behind: the keys expire. Every key's
        # expiry is renewed now and then (at most every minute, four times within its life),
        # and a key first written since then (new, or emptied by a prune here) at once; one
        # that Redis or another process emptied gets it back at the next renewal.
        ttl = math.ceil(self.bounds.max_age) + 60
        now = time.monotonic()
        if now >= self._renew_expiry_at:
            self._renew_expiry_at = now + min(60.0, ttl / 4)
            renewed, self._expiring = [*self.keys.values(), self.seen_key], set(written)
        else:
            renewed = [key for key in written if key not in self._expiring]
            self._expiring.update(renewed)
        for key in renewed:
            pipe.expire(key, ttl)

    def _take_unshared(self, latest: Latest | None = None) -> dict[str, tuple[float, dict[str, str]]]:
        with self._unshared_lock:
            if latest:
                self._unshared.update(latest, time.time())
            return self._unshared.take()

    def _restore_unshared(self, entries: dict[str, tuple[float, dict[str, str]]]) -> None:
        with self._unshared_lock:
            self._unshared.restore(entries)
            self._unshared.prune(time.time())

    # Worker thread (sync client).

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self.url, socket_timeout=5.0, **CLIENT_OPTIONS)
        return self._client

    def share(self, frames: list[str], latest: Latest) -> None:
        entries = self._take_unshared(latest)
        if time.monotonic() < self._share_again_at:
            self._restore_unshared(entries)
            raise redis.ConnectionError("Redis failed a moment ago; not tried again yet")
        missed = self._missed_frames
        try:
            # After a failure, the catch-up entries that failed and a new loss epoch go in together.
            pipe = self.client.pipeline(transaction=missed)
            self._queue_writes(pipe, entries)
            if missed:
                pipe.incr(self.epoch_key)
            pipe.publish(self.channel, self.origin + "\n" + "\n".join(frames))
            written = pipe.execute()
            if missed:
                self._missed_frames = False
                self.client.publish(self.channel, self._lost_marker(written[-2]))
        except Exception:
            self._restore_unshared(entries)
            self._missed_frames = True
            self._share_again_at = time.monotonic() + SHARE_RETRY_PAUSE
            raise
        now = time.time()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            self._prune(now)

    def _prune(self, now: float) -> None:
        """Delete the entries of agents past the bounds (any process may; doing it twice is harmless)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrangebyscore(self.seen_key, "-inf", f"({now - self.bounds.max_age}")
        pipe.zrange(self.seen_key, 0, -(self.bounds.agents + 1))
        stale, beyond_cap = pipe.execute()
        gone = list({*stale, *beyond_cap})
        if gone:
            pipe = self.client.pipeline(transaction=False)
            for key in self.keys.values():
                pipe.hdel(key, *gone)
            pipe.zrem(self.seen_key, *gone)
            pipe.execute()
            self._expiring.clear()  # a key emptied here and written again needs its expiry again

    def known(self, agent_ids: list[str]) -> set[str]:
        now = time.time()
        with self._unshared_lock:
            found = {agent_id for agent_id in agent_ids if self._unshared.knows(agent_id, now)}
        asked = [agent_id for agent_id in agent_ids if agent_id not in found]
        if not asked:
            return found
        try:
            seen = self.client.zmscore(self.seen_key, asked)
        except redis.RedisError:
            return set(agent_ids)  # cannot tell: say they went inactive, not leave them shown active
        oldest = now - self.bounds.max_age
        return found | {
            agent_id for agent_id, at in zip(asked, seen, strict=True) if at is not None and at >= oldest
        }

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # Event loop (asyncio client).

    @property
    def aclient(self) -> redis.asyncio.Redis:
        if self._aclient is None:
            self._aclient = redis.asyncio.Redis.from_url(self.url, **CLIENT_OPTIONS)
        return self._aclient

    def _lost_marker(self, epoch: int) -> str:
        return f"{self.origin}\n{LOST_MARKER}{epoch}"

    async def acatchup(self) -> tuple[list[str], int]:
        async with self.aclient.pipeline(transaction=False) as pipe:
            pipe.get(self.epoch_key)  # first: the hashes read next hold every loss up to it
            pipe.zrange(self.seen_key, 0, -1, withscores=True)
            for kind in CATCHUP_KINDS:
                pipe.hgetall(self.keys[kind])
            epoch, seen_list, *hashes = await pipe.execute()
        now = time.time()
        seen = dict(seen_list)
        undated = {agent for frames in hashes for agent in frames if agent not in seen}
        if undated:  # written by an older version: dated now, so they age out like the others
            await self.aclient.zadd(self.seen_key, dict.fromkeys(undated, now), nx=True)
        catchup = Catchup(self.bounds)
        catchup.load(
            (
                (agent_id, seen.get(agent_id, now), kind, frame)
                for kind, frames in zip(CATCHUP_KINDS, hashes, strict=True)
                for agent_id, frame in frames.items()
            ),
            now,
        )
        return catchup.frames(now), int(epoch or 0)

    async def _share_unshared(self) -> None:
        """Write what this process could not, and when it lost live frames tell the others."""
        entries = self._take_unshared()
        missed = self._missed_frames
        try:
            async with self.aclient.pipeline(transaction=missed) as pipe:
                self._queue_writes(pipe, entries)
                if missed:
                    pipe.incr(self.epoch_key)
                written = await pipe.execute()
            if missed:
                self._missed_frames = False
                await self.aclient.publish(self.channel, self._lost_marker(written[-1]))
        except Exception:
            self._restore_unshared(entries)
            raise

    async def listen(self, deliver: Deliver, missed: Missed) -> None:
        if self._listener is None or self._listener.done():
            self._listening = asyncio.get_running_loop().create_future()
            self._listener = asyncio.create_task(self._listen(deliver, missed, self._listening))
        await asyncio.shield(self._listening)

    async def _listen(self, deliver: Deliver, missed: Missed, listening: asyncio.Future) -> None:
        """Subscribe, and after a loss subscribe again (with growing pauses) until stopped."""
        origin = self.origin.encode()
        pause = RESUBSCRIBE_PAUSES[0]
        while True:
            pubsub = self.aclient.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        if listening.done():
                            # Subscribed again (after our retry or redis-py's own reconnection):
                            # whatever was published in between never reached this process.
                            self._share_again_at = 0.0  # Redis answers: the worker may share again
                            await self._share_unshared()
                            logger.warning("dashboard feed: Redis subscription back; dashboards reconnect")
                            missed(None)
                        else:
                            listening.set_result(None)  # confirmed: from here on no batch is missed
                        pause = RESUBSCRIBE_PAUSES[0]
                    elif message["type"] == "message":
                        sender, _, body = message["data"].partition(b"\n")
                        if sender == origin:
                            continue
                        text = body.decode("utf-8")
                        if text.startswith(LOST_MARKER):
                            logger.warning(
                                "dashboard feed: another process lost frames; dashboards reconnect"
                            )
                            missed(int(text.removeprefix(LOST_MARKER)))
                        else:
                            deliver(text.split("\n"))
                raise ConnectionError("subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not listening.done():
                    listening.set_exception(exc)
                    return
                logger.warning(
                    "dashboard feed: lost the Redis subscription (%s); retrying in %.2fs", exc, pause
                )
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESUBSCRIBE_PAUSES[1])

    async def stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
