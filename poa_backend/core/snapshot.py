"""Values read from the database and re-read at most every few moments.

Plug-in rows and metric types are edited in the admin while the backend runs;
every process picks the edits up within ``CONFIG_REFRESH_INTERVAL`` (and the re-read's
own moment, in async code) without a restart, and the hot path reads memory, not the
database.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async
from django.db import DatabaseError

from poa_backend.core.conf import poa_settings

T = TypeVar("T")
logger = logging.getLogger(__name__)

_all: list["Snapshot"] = []


class Snapshot(Generic[T]):
    def __init__(self, loader: Callable[[], T]) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded = False
        self._loaded_at = float("-inf")
        self._refresh: asyncio.Task | None = None
        _all.append(self)

    def is_fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < poa_settings.CONFIG_REFRESH_INTERVAL

    def get(self) -> T:
        """The value, reloaded first when stale (sync context: may query the database).

        While the database is away the value last read is kept (admin edits wait for it
        to return), so agents' calls never fail on a re-read; only a value never read raises.
        """
        if not self.is_fresh():
            with self._lock:
                if not self.is_fresh():
                    self._reload()
        return self._value  # type: ignore[return-value]

    def _reload(self) -> None:
        try:
            self._value = self._loader()
            self._loaded = True
        except DatabaseError as exc:
            if not self._loaded:
                raise
            logger.warning("configuration not re-read, keeping the last read: %s", exc)
        self._loaded_at = time.monotonic()

    async def aget(self) -> T:
        """The value from async code, from memory: when stale, the value last read, while one
        re-read runs beside the callers (hundreds of frames a second must not each wait for a
        thread and the database). Only a value never read is waited for."""
        if not self._loaded:
            return await sync_to_async(self.get, thread_sensitive=False)()
        if not self.is_fresh():
            loop = asyncio.get_running_loop()
            refresh = self._refresh
            if refresh is None or refresh.done() or refresh.get_loop() is not loop:
                self._refresh = loop.create_task(self._arefresh())
        return self._value  # type: ignore[return-value]

    async def _arefresh(self) -> None:
        try:
            await sync_to_async(self.get, thread_sensitive=False)()
        except Exception:  # get() keeps the last value on database errors; anything else is logged
            logger.exception("configuration not re-read")

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")


def read_all() -> None:
    """Read every snapshot (sync: queries the database) before the process serves: a value
    never read is the one a database outage cannot stand in for, so it is never a caller's."""
    for snapshot in _all:
        if not snapshot._loaded:
            snapshot.get()


def invalidate_all(**kwargs: object) -> None:
    """Forget every snapshot (connected to model saves, so this process sees its own edits at once)."""
    for snapshot in _all:
        snapshot.invalidate()
