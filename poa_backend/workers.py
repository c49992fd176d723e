"""Several server processes on the same listeners: ``runbackend --workers N``.

The parent opens the listening sockets and starts N worker processes that inherit them
(``--inherit-listeners``): per listener one socket for each worker, all bound to the same
port with ``SO_REUSEPORT``, so the kernel spreads new connections evenly over the workers
(one shared socket lets whichever worker wakes first take a whole burst of connections).
A restarted worker takes over the sockets of the one it replaces, with their queues.
The workers share state only through PostgreSQL and Redis (dashboard frames, presence,
caches), which is why more than one worker needs both. The parent does no request work:
it restarts a worker that dies and, on SIGTERM or SIGINT, passes the signal on and waits
for every worker to drain its receivers.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from poa_backend.core.conf import poa_settings
from poa_backend.core.plugins import LISTEN_BACKLOG, Listener

logger = logging.getLogger("poa_backend.runbackend")

#: Seconds a worker gets beyond the receivers' drain timeout before it is killed.
STOP_GRACE = 10.0
#: A worker that dies is restarted, at most this often.
RESTART_INTERVAL = 1.0


def check_shared_state(workers: int) -> None:
    """Workers meet only in PostgreSQL and Redis: refuse to start several without them."""
    if workers < 1:
        raise CommandError("--workers must be at least 1")
    if workers == 1:
        return
    engine = settings.DATABASES["default"]["ENGINE"]
    if not settings.REDIS_URL or engine.endswith("sqlite3"):
        raise CommandError(
            f"--workers {workers} needs REDIS_URL and a PostgreSQL DATABASE_URL: worker processes share "
            "dashboards, presence and caches only through them (the embedded default runs one process)"
        )


def open_listener(listener: Listener) -> socket.socket:
    """A listening socket for ``listener``, inheritable by a worker; one per worker on one port."""
    family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((listener.host, listener.port))
    except OSError as exc:
        sock.close()
        raise CommandError(f"cannot listen on {listener.url}: {exc}") from exc
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


@dataclass(frozen=True)
class InheritedListener:
    """A listener whose socket the parent opened: its port, scheme and file descriptor."""

    port: int
    scheme: str
    fd: int
    family: int = socket.AF_INET

    def spec(self) -> str:
        family = "6" if self.family == socket.AF_INET6 else "4"
        return f"{self.port}={self.scheme}:{self.fd}:{family}"

    @classmethod
    def parse(cls, spec: str) -> "InheritedListener":
        port, _, rest = spec.partition("=")
        scheme, fd, family = rest.split(":")
        return cls(int(port), scheme, int(fd), socket.AF_INET6 if family == "6" else socket.AF_INET)


def parse_inherited(value: str) -> list[InheritedListener]:
    try:
        return [InheritedListener.parse(item) for item in value.split(",") if item]
    except ValueError as exc:
        raise CommandError(f"--inherit-listeners: cannot read {value!r}") from exc


def adopt_listeners(server: Any, inherited: list[InheritedListener], listeners: dict[int, Listener]) -> None:
    """Serve the inherited sockets once the reactor runs, TLS ones wrapped with the listener's pair
    (Daphne's ``fd:`` endpoint knows neither TLS nor IPv6)."""
    from twisted.internet import reactor
    from twisted.internet import ssl as twisted_ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory

    from poa_backend.tls import ensure_self_signed_pair

    server.endpoints = []  # nothing for Daphne to open itself

    def adopt() -> None:
        try:
            adopt_all()
        except Exception:  # a socket left unserved would hang its share of connections
            logger.exception("worker cannot serve its inherited listeners: stopping")
            reactor.stop()

    def adopt_all() -> None:
        for item in inherited:
            factory = server.http_factory
            if item.scheme == "https":
                listener = listeners.get(item.port)
                if listener is not None and listener.certfile:
                    cert, key = Path(listener.certfile), Path(listener.keyfile)
                else:
                    cert, key = ensure_self_signed_pair(settings.DATA_DIR / "tls")
                certificate = twisted_ssl.PrivateCertificate.loadPEM(key.read_text() + cert.read_text())
                factory = TLSMemoryBIOFactory(certificate.options(), False, factory)
            reactor.adoptStreamPort(item.fd, item.family, factory)

    reactor.callWhenRunning(adopt)


class WorkerPool:
    """The parent of ``--workers N``: holds the sockets, runs and watches the workers."""

    def __init__(self, workers: int, listeners: list[Listener]) -> None:
        self.count = workers
        self.listeners = listeners
        self.sockets = [[open_listener(listener) for listener in listeners] for _ in range(workers)]
        self.inherited = [
            [
                InheritedListener(listener.port, listener.scheme, sock.fileno(), sock.family)
                for listener, sock in zip(listeners, sockets, strict=True)
            ]
            for sockets in self.sockets
        ]
        # Made once here: workers making it at the same time would read each other's half-written files.
        from poa_backend.tls import ensure_self_signed_pair

        if any(listener.scheme == "https" and not listener.certfile for listener in listeners):
            ensure_self_signed_pair(settings.DATA_DIR / "tls")
        self.processes: list[subprocess.Popen | None] = [None] * workers
        self.started_at = [0.0] * workers
        self.stopping = False

    def _command(self, slot: int) -> list[str]:
        spec = ",".join(item.spec() for item in self.inherited[slot])
        manage = Path(settings.BASE_DIR) / "manage.py"
        return [sys.executable, str(manage), "runbackend", "--no-migrate", "--inherit-listeners", spec]

    def _start(self, slot: int) -> None:
        fds = [item.fd for item in self.inherited[slot]]
        # The slot's spools (receivers.spool): a restarted worker delivers what its predecessor left.
        env = {**os.environ, "POA_WORKER_SLOT": str(slot + 1)}
        self.processes[slot] = subprocess.Popen(self._command(slot), pass_fds=fds, env=env)
        self.started_at[slot] = time.monotonic()
        logger.info("worker %d started (pid %d)", slot + 1, self.processes[slot].pid)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit status is 0 when every worker stopped cleanly."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in range(self.count):
                self._start(slot)
            for listener in self.listeners:
                logger.info("listening on %s with %d workers", listener.url, self.count)
            while not self.stopping:
                self._watch()
                time.sleep(0.2)
            return self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sockets in self.sockets:
                for sock in sockets:
                    sock.close()

    def _watch(self) -> None:
        for slot, process in enumerate(self.processes):
            if process is None or process.poll() is None:
                continue
            if self.stopping:
                return
            logger.error("worker %d (pid %d) exited with %s", slot + 1, process.pid, process.returncode)
            if time.monotonic() - self.started_at[slot] < RESTART_INTERVAL:
                time.sleep(RESTART_INTERVAL)
            self._start(slot)

    def _stop_all(self) -> int:
        logger.info("stopping %d workers", self.count)
        running = [process for process in self.processes if process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + float(poa_settings.RECEIVER_DRAIN_TIMEOUT) + STOP_GRACE
        status = 0
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("worker pid %d did not stop in time: killed", process.pid)
                process.kill()
                process.wait()
                status = 1
                continue
            if process.returncode not in (0, -signal.SIGTERM):
                status = 1
        logger.info("stopped")
        return status
