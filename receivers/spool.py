"""What a receiver has not handled yet: in memory, or for a durable receiver in a file.

Both queues have one shape: ``append`` at the tail, ``peek`` a run from the head,
``remove`` that run once the receiver handled it. Nothing leaves a queue before its
receiver confirmed it, so a batch that fails stays at the head to be tried again.

A durable receiver's ``Spool`` is a SQLite table in WAL mode (one file per receiver
and process slot, under ``SPOOL_DIR``): an append is committed before the handler
answers, so it survives the death of the process (kill -9) and is read back by the
next process that takes the slot. A machine crash can lose the last appends the
operating system had not written out; ``SPOOL_FSYNC`` makes each append wait for the
disk. SQLite rather than persist-queue or diskcache: those acknowledge item by item
(one more commit per message on the delivery side), while a batch here is one
``SELECT`` and one range ``DELETE``.
"""

import fcntl
import os
import sqlite3
import threading
import time
from collections import deque
from itertools import islice
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.signals import setting_changed

from poa_backend.core.conf import poa_settings

#: One spooled item: its id, when it was appended (seconds since the epoch), its encoded form.
Entry = tuple[int, float, bytes]


class Full(Exception):
    """The queue is at its bound; nothing was appended."""


class MemoryQueue:
    """A bounded queue in this process (a receiver that is not durable loses it with the process)."""

    durable = False

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[tuple[int, float, object]] = deque()
        self._next_id = 0
        self._lock = threading.Lock()
        self.ready = threading.Event()

    def append(self, item: object, bounded: bool = True) -> None:
        with self._lock:
            if bounded and len(self._items) >= self.maxsize:
                raise Full()
            self._next_id += 1
            self._items.append((self._next_id, time.time(), item))
        self.ready.set()

    def peek(self, limit: int) -> list[tuple[int, float, object]]:
        with self._lock:
            return list(islice(self._items, limit))

    def remove(self, entries: list) -> None:
        """Drop the head up to the last of ``entries`` (the receiver handled them)."""
        last_id = entries[-1][0]
        with self._lock:
            while self._items and self._items[0][0] <= last_id:
                self._items.popleft()

    def qsize(self) -> int:
        return len(self._items)

    def figures(self) -> dict[str, float]:
        with self._lock:
            oldest = self._items[0][1] if self._items else None
            depth = len(self._items)
        return {"depth": depth, "oldest_seconds": _age(oldest)}

    def close(self) -> None:
        pass


class Spool:
    """A durable receiver's undelivered messages, in order, in a SQLite file; bounded in bytes."""

    durable = True

    def __init__(self, path: Path, max_bytes: int, fsync: bool = False) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.ready = threading.Event()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level None): each append is its own committed transaction.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool "
            "(id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, body BLOB NOT NULL)"
        )
        depth, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM spool"
        ).fetchone()
        self.depth: int = depth
        self.bytes: int = size
        if depth:
            self.ready.set()

    def append(self, body: bytes, bounded: bool = True) -> None:
        """Commit ``body`` at the tail; ``Full`` when it would take the spool past its bound."""
        with self._lock:
            if bounded and self.bytes + len(body) > self.max_bytes:
                raise Full()
            self._db.execute("INSERT INTO spool (at, body) VALUES (?, ?)", (time.time(), body))
            self.depth += 1
            self.bytes += len(body)
        self.ready.set()

    def peek(self, limit: int) -> list[Entry]:
        with self._lock:
            return self._db.execute("SELECT id, at, body FROM spool ORDER BY id LIMIT ?", (limit,)).fetchall()

    def remove(self, entries: list[Entry]) -> None:
        """Delete the head up to the last of ``entries``, as ``peek`` gave them (handled)."""
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE id <= ?", (entries[-1][0],))
            self.depth -= len(entries)
            self.bytes -= sum(len(body) for _, _, body in entries)

    def qsize(self) -> int:
        return self.depth

    def figures(self) -> dict[str, float]:
        with self._lock:
            row = self._db.execute("SELECT at FROM spool ORDER BY id LIMIT 1").fetchone()
            depth, size = self.depth, self.bytes
        return {"depth": depth, "bytes": size, "oldest_seconds": _age(row[0] if row else None)}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _age(appended_at: float | None) -> float:
    return max(0.0, time.time() - appended_at) if appended_at is not None else 0.0


class Slot:
    """This process's spool directory, held with an exclusive lock for the life of the process.

    Each process takes a numbered slot (``WORKER_SLOT`` first, the worker's own under
    ``runbackend --workers``, else the lowest free one), so two processes never read one
    spool, and a worker's successor, or the next start, finds what was left in it. The lock
    goes with the process however it ends (kill -9 included).
    """

    def __init__(self) -> None:
        self.path: Path | None = None
        self._lock_file: IO[bytes] | None = None
        self._mutex = threading.Lock()

    def directory(self) -> Path:
        with self._mutex:
            if self.path is None or self._lock_file is None:
                self.path, self._lock_file = self._claim()
            return self.path

    def _claim(self) -> tuple[Path, IO[bytes]]:
        root = Path(poa_settings.SPOOL_DIR or Path(settings.DATA_DIR) / "spool")
        root.mkdir(parents=True, exist_ok=True)
        preferred = int(poa_settings.WORKER_SLOT)
        candidates = ([preferred] if preferred > 0 else []) + list(range(1, 10_000))
        for number in candidates:
            path = root / f"slot-{number}"
            path.mkdir(exist_ok=True)
            lock_file = open(path / "lock", "ab")
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()
                continue
            os.set_inheritable(lock_file.fileno(), False)
            return path, lock_file
        raise RuntimeError(f"no free spool slot under {root}")

    def release(self) -> None:
        """Let another process take the slot (settings changed, tests)."""
        with self._mutex:
            if self._lock_file is not None:
                self._lock_file.close()
            self.path = self._lock_file = None


slot = Slot()


def open_spool(receiver_name: str) -> Spool:
    """The spool of ``receiver_name`` in this process's slot."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in receiver_name)
    return Spool(
        slot.directory() / f"{safe}.sqlite3",
        int(poa_settings.SPOOL_MAX_BYTES),
        fsync=bool(poa_settings.SPOOL_FSYNC),
    )


def _release_on_change(setting: str, **kwargs: object) -> None:
    if setting == "POA_BACKEND":  # SPOOL_DIR or WORKER_SLOT may have changed (tests' overrides)
        slot.release()


setting_changed.connect(_release_on_change, dispatch_uid="receivers.spool")
