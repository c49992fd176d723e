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

import asyncio
import contextlib
import fcntl
import functools
import itertools
import os
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.signals import setting_changed

from poa_backend.core.conf import poa_settings

#: Commits between two checkpoints of a spool's write-ahead log: a commit writes a few pages,
#: so the log stays near SQLite's own default of 1,000 pages (which it would checkpoint in the
#: appending thread).
CHECKPOINT_COMMITS = 300
#: Commits after which the appender checkpoints itself: deliveries are not keeping the log
#: short (the sink is away, or the delivery thread gets no CPU), and the log must not grow
#: with the spool.
FORCED_CHECKPOINT_COMMITS = 4 * CHECKPOINT_COMMITS

#: How long a connection waits for another's lock on a spool file (milliseconds), off the loop.
BUSY_TIMEOUT_MS = 30_000

#: Longest a commit on the event loop may take (seconds) before the next INLINE_PAUSE seconds of
#: loop appends go to the committer thread: a stalling disk, not the few milliseconds the loop
#: may wait to take the interpreter back from a busy thread after SQLite let it go.
INLINE_COMMIT_BUDGET = 0.02
INLINE_PAUSE = 1.0

#: Appends written with one statement (two parameters each, far below SQLite's limit).
ROWS_PER_STATEMENT = 256

#: One spooled item: its id, when it was appended (seconds since the epoch), its encoded form.
Entry = tuple[int, float, bytes]


class Full(Exception):
    """The queue is at its bound; nothing was appended."""


class _WorkerWakeUp:
    """How appends wake the queue's worker: ``ready`` is set once the depth reaches ``wake_at``,
    1 while the worker idles and its batch size while it lingers for a fuller batch. So a
    lingering worker wakes once per batch, not once per append: each wake-up takes the
    interpreter from the event loop that appends."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.wake_at = 1

    def qsize(self) -> int:
        raise NotImplementedError

    def _wake_worker(self) -> None:
        if not self.ready.is_set() and self.qsize() >= self.wake_at:
            self.ready.set()


class MemoryQueue(_WorkerWakeUp):
    """A bounded queue in this process (a receiver that is not durable loses it with the process).

    Without a lock: handlers' threads and the event loop only append to ``_incoming``, the
    receiver's one worker thread moves entries from its head to ``_taken`` (``peek``) and
    drops them from there (``remove``); a deque's ``append`` and ``popleft`` are atomic. So
    an append never waits for the worker (which, holding a lock, could lose the interpreter
    to another thread and keep the event loop waiting for milliseconds).
    """

    durable = False

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize
        self._incoming: deque[tuple[int, float, object]] = deque()
        self._taken: deque[tuple[int, float, object]] = deque()
        self._ids = itertools.count(1)

    def append(self, item: object, bounded: bool = True) -> None:
        if bounded and self.qsize() >= self.maxsize:
            raise Full()
        self._incoming.append((next(self._ids), time.time(), item))
        self._wake_worker()  # after the append: a worker that cleared ``ready`` sees the item

    def peek(self, limit: int) -> list[tuple[int, float, object]]:
        """The head, up to ``limit`` entries, in the order appended (the worker thread only)."""
        taken, incoming = self._taken, self._incoming
        while len(taken) < limit and incoming:
            taken.append(incoming.popleft())
        return list(islice(taken, limit))

    def remove(self, entries: list) -> None:
        """Drop ``entries``, the head as ``peek`` gave it (the receiver handled them)."""
        for _ in entries:
            self._taken.popleft()

    def qsize(self) -> int:
        return len(self._incoming) + len(self._taken)

    def figures(self) -> dict[str, float]:
        oldest = None
        for part in (self._taken, self._incoming):
            with contextlib.suppress(IndexError):  # emptied meanwhile by the worker
                oldest = part[0][1]
                break
        return {"depth": self.qsize(), "oldest_seconds": _age(oldest)}

    def close(self) -> None:
        pass


class _Commit:
    """Appends that go to disk in one transaction; each appender waits for ``done``."""

    __slots__ = ("done", "error", "rows", "size")

    def __init__(self) -> None:
        self.rows: list[tuple[float, bytes]] = []
        self.size = 0
        self.done = False
        self.error: sqlite3.Error | None = None


class Spool(_WorkerWakeUp):
    """A durable receiver's undelivered messages, in order, in a SQLite file; bounded in bytes.

    Appends are group-committed: an appender that finds no commit under way writes every
    append waiting by then in one transaction, and the others wait for it, so eight request
    threads cost one commit, not eight. Delivery reads on a connection of its own (WAL lets it
    read while appends commit); appends and deletes share the writer connection, but for the
    event loop's commits, which have one of their own; one lock lets a single write go at a time.
    """

    durable = True

    def __init__(self, path: Path, max_bytes: int, fsync: bool = False) -> None:
        super().__init__()
        self.path = path
        self.max_bytes = max_bytes
        self._state = threading.Condition(threading.Lock())  # depth, bytes and the open commit
        self._open = _Commit()
        self._committing = False
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._commits = 0  # since the last checkpoint
        #: One thread writes what the event loops append (``append_soon``), in order.
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"spool-{path.stem}")
        #: Loop turns' appends waiting for the committer thread, and whether it is at work.
        self._handed_over: list[tuple[asyncio.AbstractEventLoop, list[Any]]] = []
        self._committer_busy = False
        #: Loop appends commit on the loop unless each commit waits for the disk (fsync).
        self._inline_commits = not fsync
        self._inline_paused_until = 0.0
        #: Appends made on each event loop, committed together on its next turn.
        self._soon: dict[asyncio.AbstractEventLoop, list[tuple[float, bytes, asyncio.Future[None]]]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect(fsync)
        self._writer.execute(
            "CREATE TABLE IF NOT EXISTS spool "
            "(id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, body BLOB NOT NULL)"
        )
        #: The event loop's own writer, which never waits for another's lock: a commit there is
        #: one call into SQLite (each call lets a busy thread take the interpreter from the loop).
        self._loop_writer = self._connect(fsync) if self._inline_commits else None
        if self._loop_writer is not None:
            self._loop_writer.execute("PRAGMA busy_timeout=0")
        self._reader = self._connect(fsync)
        depth, size = self._reader.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM spool"
        ).fetchone()
        self.depth: int = depth
        self.bytes: int = size
        if depth:
            self.ready.set()

    def _connect(self, fsync: bool) -> sqlite3.Connection:
        # Autocommit (isolation_level None): transactions are explicit.
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        # The delivery thread checkpoints (``remove``); appends never stall on copying the log.
        db.execute("PRAGMA wal_autocheckpoint=0")
        return db

    def append(self, body: bytes, bounded: bool = True) -> None:
        """Commit ``body`` at the tail; ``Full`` when it would take the spool past its bound.
        Returns once the commit holding it is done (``sqlite3.Error`` if it failed)."""
        self._reserve(len(body), bounded)
        self._commit([(time.time(), body)], len(body))
        self._wake_worker()

    def append_soon(self, body: bytes, bounded: bool = True) -> "asyncio.Future[None]":
        """``append`` from the event loop, never holding the loop for the disk: what this turn of
        the loop appends is written at the start of the next, in one transaction
        (``_commit_soon``), and the future completes once it is written (with ``sqlite3.Error``
        if that failed). ``Full`` at once."""
        loop = asyncio.get_running_loop()
        self._reserve(len(body), bounded)
        future = loop.create_future()
        waiting = self._soon.setdefault(loop, [])
        waiting.append((time.time(), body, future))
        if len(waiting) == 1:
            loop.call_soon(self._commit_soon, loop)
        return future

    def _commit_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write this turn's appends in one transaction: here on the loop when the writer is
        free at once (a commit without fsync is a write into the page cache, far cheaper than
        waking a thread and waiting for it under a busy interpreter), else on the committer
        thread, so the loop never waits for the disk, a checkpoint, a delete or another
        process holding the writer. Turns that come while the thread writes are written
        together next, behind it, so the order of appends is kept and the thread never falls
        behind."""
        waiting = self._soon.pop(loop)
        if self._commit_on_loop(waiting):
            return
        with self._state:
            self._handed_over.append((loop, waiting))
            if self._committer_busy:
                return
            self._committer_busy = True
        self._committer.submit(self._write_handed_over)

    def _commit_on_loop(self, waiting: list[tuple[float, bytes, "asyncio.Future[None]"]]) -> bool:
        """Commit ``waiting`` on the loop if that cannot wait; False when it is the thread's."""
        with self._state:
            if not (
                self._inline_commits
                and not self._committing
                and not self._committer_busy
                and self._commits < FORCED_CHECKPOINT_COMMITS
                and time.monotonic() >= self._inline_paused_until
                and self._write_lock.acquire(blocking=False)
            ):
                return False
            self._committing = True
        rows = [(at, body) for at, body, _ in waiting]
        began = time.monotonic()
        error: sqlite3.Error | None = None
        try:
            self._insert(rows, self._loop_writer)
        except sqlite3.Error as exc:
            error = exc
        finally:
            self._write_lock.release()
        busy = getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
        with self._state:
            if busy:  # nothing was written: the rows go to the thread, still counted
                self._committing = False
                self._state.notify_all()
            else:
                self._settle(len(rows), sum(len(body) for _, body in rows), error)
            if busy or time.monotonic() - began > INLINE_COMMIT_BUDGET:
                # Another process holds the file, or the disk is slow: leave it to the thread.
                self._inline_paused_until = time.monotonic() + INLINE_PAUSE
        if busy:
            return False
        self._confirm_soon(waiting, error)
        return True

    def _settle(self, rows: int, size: int, error: sqlite3.Error | None) -> None:
        """A commit is over (called holding ``_state``): the writer is free for the next, and a
        failed commit's appends no longer count."""
        self._committing = False
        self._commits += 1
        if error is not None:
            self.depth -= rows
            self.bytes -= size
        self._state.notify_all()

    def _write_handed_over(self) -> None:
        """The committer thread: write everything handed over, until nothing is left."""
        while True:
            with self._state:
                handed_over, self._handed_over = self._handed_over, []
                if not handed_over:
                    self._committer_busy = False
                    return
            rows = [(at, body) for _, waiting in handed_over for at, body, _ in waiting]
            error: sqlite3.Error | None = None
            try:
                self._commit(rows, sum(len(body) for _, body in rows))
            except sqlite3.Error as exc:
                error = exc
            for loop, waiting in handed_over:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    loop.call_soon_threadsafe(self._confirm_soon, waiting, error)

    def _confirm_soon(
        self, waiting: list[tuple[float, bytes, "asyncio.Future[None]"]], error: sqlite3.Error | None
    ) -> None:
        for *_, future in waiting:
            if future.done():  # its caller has gone (connection closed)
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
        if error is None:
            self._wake_worker()

    def _reserve(self, size: int, bounded: bool) -> None:
        """Count an append before it is written (``_lead`` takes it back if the write fails)."""
        with self._state:
            if bounded and self.bytes + size > self.max_bytes:
                raise Full()
            self.depth += 1
            self.bytes += size

    def _commit(self, rows: list[tuple[float, bytes]], size: int) -> None:
        """Write ``rows`` with whatever else is waiting: the first appender to find no commit
        under way writes them all, the others wait for it."""
        with self._state:
            commit = self._open
            commit.rows.extend(rows)
            commit.size += size
            while not commit.done:
                if self._committing:
                    self._state.wait()
                else:
                    self._lead()
        if commit.error is not None:
            raise commit.error

    def _lead(self) -> None:
        """Write the open commit (called holding ``_state``, released while writing)."""
        commit, self._open = self._open, _Commit()
        self._committing = True
        self._state.release()
        try:
            with self._write_lock:
                self._insert(commit.rows)
                if self._commits >= FORCED_CHECKPOINT_COMMITS:
                    # With the reader held too, the checkpoint copies the whole log, so the
                    # next commit starts it from the beginning.
                    with self._read_lock:
                        self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    self._commits = 0
        except sqlite3.Error as exc:  # the disk is full or failing: every appender in it hears
            commit.error = exc
        finally:
            self._state.acquire()
            commit.done = True
            self._settle(len(commit.rows), commit.size, commit.error)

    def _insert(self, rows: list[tuple[float, bytes]], db: sqlite3.Connection | None = None) -> None:
        """One transaction for ``rows`` on ``db`` (the writer by default); up to
        ``ROWS_PER_STATEMENT`` of them in one statement, so a commit costs one call into SQLite
        (each call lets other threads take the interpreter, which a busy process may not give
        back for milliseconds)."""
        db = db or self._writer
        if len(rows) <= ROWS_PER_STATEMENT:
            db.execute(_insert_statement(len(rows)), [value for row in rows for value in row])
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_insert_statement(1), rows)
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")

    def peek(self, limit: int) -> list[Entry]:
        with self._read_lock:
            return self._reader.execute(
                "SELECT id, at, body FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()

    def remove(self, entries: list[Entry]) -> None:
        """Delete the head up to the last of ``entries``, as ``peek`` gave them (handled)."""
        with self._write_lock:
            self._writer.execute("DELETE FROM spool WHERE id <= ?", (entries[-1][0],))
        with self._state:
            self.depth -= len(entries)
            self.bytes -= sum(len(body) for _, _, body in entries)
        if self._commits >= CHECKPOINT_COMMITS:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the write-ahead log into the file, so the log starts over and stays small.
        The bulk is copied beside the appends; only what they added meanwhile is copied with
        appends held, which lets the next append start the log from the beginning."""
        with self._state:
            self._commits = 0
        with self._read_lock:
            self._reader.execute("PRAGMA wal_checkpoint(PASSIVE)")
        with self._write_lock:
            self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def qsize(self) -> int:
        return self.depth

    def figures(self) -> dict[str, float]:
        with self._read_lock:
            row = self._reader.execute("SELECT at FROM spool ORDER BY id LIMIT 1").fetchone()
        with self._state:
            depth, size = self.depth, self.bytes
        return {"depth": depth, "bytes": size, "oldest_seconds": _age(row[0] if row else None)}

    def close(self) -> None:
        """Write what is still to be written (a loop's last turn, after the loop stopped), then close."""
        self._committer.shutdown(wait=True)
        left = [(at, body) for waiting in self._soon.values() for at, body, _ in waiting]
        self._soon.clear()
        if left:
            with contextlib.suppress(sqlite3.Error):  # the disk refuses: nothing more can be done
                self._commit(left, sum(len(body) for _, body in left))
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._writer.close()
            if self._loop_writer is not None:
                self._loop_writer.close()


@functools.lru_cache(maxsize=ROWS_PER_STATEMENT)
def _insert_statement(rows: int) -> str:
    return "INSERT INTO spool (at, body) VALUES " + ", ".join(["(?, ?)"] * rows)


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
