"""The server under test: the real backend (``runbackend``) or the floor app, on free ports.

Each backend gets its own data directory and database: embedded SQLite by default, or a
fresh PostgreSQL database (created here, dropped after) with Redis under a unique prefix.
"""

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


#: Ports handed out by this process, never handed out twice.
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, below the kernel's ephemeral range (32768 and up), where
    outgoing connections (to PostgreSQL, Redis, the server) take their ports and could take
    it before the server binds it. ``POA_FREE_PORTS`` (``low-high``) narrows the range, so
    processes that hand out ports side by side never hand out the same one."""
    low, high = (int(end) for end in os.environ.get("POA_FREE_PORTS", "20000-32000").split("-"))
    while True:
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (workers), in bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except OSError:
            continue
    return total


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, Any]:
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gb": round(memory / 2**30, 1),
        "python": sys.version.split()[0],
    }


class Server:
    """A server subprocess; ``stop`` sends SIGTERM and waits."""

    process: subprocess.Popen | None = None
    data_dir: Path

    def rss(self) -> int:
        return rss_bytes(self.process.pid) if self.process else 0

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class FloorServer(Server):
    """The bare ASGI app of ``bench.floor`` on Daphne."""

    def __init__(self) -> None:
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="poa-bench-floor-"))

    def start(self) -> "FloorServer":
        log = open(self.data_dir / "server.log", "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "bench.floor:application",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.process)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cleanup(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


class Backend(Server):
    """The real backend: ``manage.py runbackend [--workers N]`` with its own data dir and database."""

    def __init__(self, *, postgres: bool = False, redis: bool = False, workers: int = 1) -> None:
        self.postgres = postgres or workers > 1
        self.redis = redis or workers > 1
        self.workers = workers
        self.data_dir = Path(tempfile.mkdtemp(prefix="poa-bench-"))
        self.database = f"poa_bench_{uuid.uuid4().hex[:8]}" if self.postgres else ""
        self.redis_prefix = f"poa-bench-{uuid.uuid4().hex[:8]}"
        self.dashboard_secret = secrets.token_urlsafe(24)
        self.ports: dict[str, int] = {}
        self.credentials: list[list[str]] = []
        self.env = self._environment()

    def _environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("POA_") and key not in ("DATABASE_URL", "REDIS_URL")
        }
        env.update(
            POA_DATA_DIR=str(self.data_dir),
            DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
            POA_JWT_SECRET=secrets.token_urlsafe(40),
            POA_DASHBOARD_SECRET=self.dashboard_secret,
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
            # Every simulated client dials from 127.0.0.1, at once: the per-address cap and the
            # accept pacing that guard a real deployment would measure themselves here.
            POA_MAX_CONNECTIONS_PER_ADDRESS="0",
            POA_MAX_NEW_CONNECTIONS_PER_SECOND="0",
        )
        if self.postgres:
            env["DATABASE_URL"] = f"{POSTGRES_URL}/{self.database}"
        if self.redis:
            env.update(REDIS_URL=REDIS_URL, POA_REDIS_PREFIX=self.redis_prefix)
        return env

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.database}"')

    def _drop_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def prepare(self, agents: int, disable: list[str] | None = None) -> None:
        """Migrate, move listeners to free ports, make ``agents`` agent users with tokens."""
        if self.postgres:
            self._create_database()
        request = {"agents": agents, "prefix": "bench", "disable": disable or []}
        result = subprocess.run(
            [sys.executable, "-m", "bench.prepare"],
            cwd=ROOT,
            env=self.env,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"preparing the backend failed:\n{result.stderr[-3000:]}")
        prepared = json.loads(result.stdout)
        self.ports = prepared["ports"]
        self.credentials = prepared["credentials"]

    def start(self) -> "Backend":
        log = open(self.data_dir / "server.log", "wb")
        args = [sys.executable, "manage.py", "runbackend", "--no-migrate"]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        for port in set(self.ports.values()):
            wait_for_port(port, self.process)
        if self.workers > 1:
            self._wait_for_workers()
        time.sleep(0.5)  # receivers running
        return self

    def _wait_for_workers(self, timeout: float = 60.0) -> None:
        """The parent listens before its workers serve, and each worker has sockets of its own:
        wait until many fresh connections in a row are all answered (so by every worker)."""
        import http.client

        port = self.ports["rest"]
        deadline = time.monotonic() + timeout
        answered = 0
        while answered < 8 * self.workers * 3:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the workers did not all start serving")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
            try:
                connection.request("GET", "/bench-ready")
                connection.getresponse().read()
                answered += 1
            except OSError:
                answered = 0
            finally:
                connection.close()

    def url(self, name: str) -> str:
        scheme = "https" if name == "auth" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[name]}"

    @property
    def dashboard_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports['dashboard']}/ws"

    def count_rows(self) -> dict[str, int]:
        """Rows in the two statistics tables (PostgreSQL only)."""
        import psycopg

        with psycopg.connect(f"{POSTGRES_URL}/{self.database}") as connection:
            return {
                table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("receivers_ethereumstatistics", "receivers_systemstatistics")
            }

    def cleanup(self) -> None:
        self.stop()
        if self.postgres:
            try:
                self._drop_database()
            except Exception:
                pass
        if self.redis:
            try:
                import redis

                client = redis.Redis.from_url(REDIS_URL)
                for key in client.scan_iter(f"*{self.redis_prefix}*"):
                    client.delete(key)
            except Exception:
                pass
        shutil.rmtree(self.data_dir, ignore_errors=True)
