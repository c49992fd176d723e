"""What the processes of one backend share for a dashboard receiver: catch-up frames and live frames.

Without Redis there is one process: the latest frames live in memory and are
saved in the data directory when the receiver stops, so a restart keeps them.
With ``REDIS_URL`` every process keeps the latest frames in one Redis hash per
kind (agent id -> frame), publishes each batch once on one Redis channel tagged
with its origin, and runs one subscription that hands the other processes'
batches to its local hub (its own come back too and are skipped). One
subscription per process, not one per dashboard: Redis and the server stay
quiet however many dashboards connect.
"""

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
import redis.asyncio

from receivers.dashboard.frames import CATCHUP_KINDS

logger = logging.getLogger(__name__)

Latest = dict[str, dict[str, str]]  # kind -> agent id -> frame
Deliver = Callable[[list[str]], None]


class Backplane:
    """The sharing contract; ``share`` and ``close`` run on the worker thread, the rest on the loop."""

    def share(self, frames: list[str], latest: Latest) -> None:
        """Remember the newest catch-up frames and pass ``frames`` to the other processes."""

    def latest(self) -> Latest:
        """The newest catch-up frame of each kind per agent (any thread but the event loop)."""
        return {}

    async def alatest(self) -> Latest:
        """``latest`` for the event loop."""
        return {}

    async def listen(self, deliver: Deliver, lost: Callable[[], None]) -> None:
        """Hand every batch another process publishes to ``deliver``; returns once that works."""

    async def stop_listening(self) -> None:
        """Stop handing batches over."""

    def close(self) -> None:
        """Release connections and keep what must survive a restart."""


_remembered: dict[str, Latest] = {}
_remembered_lock = threading.Lock()


class LocalBackplane(Backplane):
    """One process: catch-up frames in memory (kept per receiver name across rebuilds) and in a file."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def _state(self) -> Latest:
        state = _remembered.get(self.name)
        if state is None:
            state = _remembered.setdefault(self.name, self._load())
        return state

    def _load(self) -> Latest:
        try:
            saved = json.loads(self.path.read_text())
            return {kind: dict(saved.get(kind, {})) for kind in CATCHUP_KINDS}
        except FileNotFoundError:
            return {kind: {} for kind in CATCHUP_KINDS}
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("dashboard %s: ignoring unreadable %s: %s", self.name, self.path, exc)
            return {kind: {} for kind in CATCHUP_KINDS}

    def share(self, frames: list[str], latest: Latest) -> None:
        with _remembered_lock:
            state = self._state()
            for kind, frames_by_agent in latest.items():
                state[kind].update(frames_by_agent)

    def latest(self) -> Latest:
        with _remembered_lock:
            return {kind: dict(frames) for kind, frames in self._state().items()}

    async def alatest(self) -> Latest:
        return self.latest()

    def close(self) -> None:
        state = self.latest()
        try:
            partial = self.path.with_suffix(".tmp")
            partial.write_text(json.dumps(state))
            partial.replace(self.path)
        except OSError as exc:
            logger.warning("dashboard %s: could not save the catch-up frames: %s", self.name, exc)


class RedisBackplane(Backplane):
    """Several processes: catch-up frames in Redis hashes, live frames over one Redis channel."""

    def __init__(self, url: str, prefix: str, name: str) -> None:
        self.url = url
        base = f"{prefix}:dashboard:{name}"
        self.channel = f"{base}:frames"
        self.keys = {kind: f"{base}:latest:{kind}" for kind in CATCHUP_KINDS}
        self.origin = uuid.uuid4().hex
        self._client: redis.Redis | None = None
        self._aclient: redis.asyncio.Redis | None = None
        self._listener: asyncio.Task | None = None
        self._listening: asyncio.Future | None = None

    # Worker thread (sync client).

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self.url, decode_responses=True)
        return self._client

    def share(self, frames: list[str], latest: Latest) -> None:
        pipe = self.client.pipeline(transaction=False)
        for kind, frames_by_agent in latest.items():
            pipe.hset(self.keys[kind], mapping=frames_by_agent)
        pipe.publish(self.channel, self.origin + "\n" + "\n".join(frames))
        pipe.execute()

    def latest(self) -> Latest:
        pipe = self.client.pipeline(transaction=False)
        for kind in CATCHUP_KINDS:
            pipe.hgetall(self.keys[kind])
        return dict(zip(CATCHUP_KINDS, pipe.execute(), strict=True))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # Event loop (asyncio client).

    @property
    def aclient(self) -> redis.asyncio.Redis:
        if self._aclient is None:
            self._aclient = redis.asyncio.Redis.from_url(self.url, decode_responses=True)
        return self._aclient

    async def alatest(self) -> Latest:
        async with self.aclient.pipeline(transaction=False) as pipe:
            for kind in CATCHUP_KINDS:
                pipe.hgetall(self.keys[kind])
            return dict(zip(CATCHUP_KINDS, await pipe.execute(), strict=True))

    async def listen(self, deliver: Deliver, lost: Callable[[], None]) -> None:
        if self._listener is None or self._listener.done():
            self._listening = asyncio.get_running_loop().create_future()
            self._listener = asyncio.create_task(self._listen(deliver, lost, self._listening))
        await asyncio.shield(self._listening)

    async def _listen(self, deliver: Deliver, lost: Callable[[], None], listening: asyncio.Future) -> None:
        pubsub = self.aclient.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async for message in pubsub.listen():
                if message["type"] == "subscribe" and not listening.done():
                    listening.set_result(None)  # confirmed: from here on no batch is missed
                elif message["type"] == "message":
                    origin, _, body = message["data"].partition("\n")
                    if origin != self.origin:
                        deliver(body.split("\n"))
            raise ConnectionError("subscription ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not listening.done():
                listening.set_exception(exc)
            else:
                logger.warning("dashboard feed: lost the Redis subscription (%s); dashboards reconnect", exc)
                lost()
        finally:
            await pubsub.aclose()

    async def stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
