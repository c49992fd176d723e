"""``runbackend --workers N``: N processes on the same listeners, sharing state through Redis and
PostgreSQL, and one SIGTERM stopping them all.

The multi-process run gets a PostgreSQL database of its own (whichever database the suite
runs on), made and dropped by the benchmark's server control, with the real Redis.
"""

import asyncio
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import msgpack
import pytest

from bench.backend import POSTGRES_URL, Backend
from simulator.transports import Credentials, SessionClient
from tests.conftest import REQUIRE_SERVICES
from tests.live import ROOT


def worker_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def open_ping(url: str, token: str) -> http.client.HTTPConnection:
    """A kept-alive connection that has had one ping answered with 200."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(
        "POST",
        "/ping",
        msgpack.packb({"id": "worker-test"}),
        {"Content-Type": "application/msgpack", "Authorization": f"Bearer {token}"},
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return connection


def established_on(pid: int, port: int, peers: set[int]) -> set[str]:
    """The established TCP connections (socket inodes) on local ``port`` from one of the
    client ports ``peers`` that the process ``pid`` holds (other clients' connections, such
    as the start's readiness probes, are left out)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == port and remote_port in peers and fields[3] == "01" and fields[9] in inodes:
            held.add(fields[9])
    return held


def ping(url: str, token: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/ping",
            msgpack.packb({"id": "worker-test"}),
            {"Content-Type": "application/msgpack", "Authorization": f"Bearer {token}"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def postgres_server():
    """PostgreSQL at BENCH_POSTGRES_URL; skips when down unless services are required."""
    import psycopg

    try:
        psycopg.connect(f"{POSTGRES_URL}/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not running")
    return POSTGRES_URL


def run_refused(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    base.update(POA_DATA_DIR=str(tmp_path), DJANGO_SECRET_KEY="test-only", POA_JWT_SECRET="test-only")
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "runbackend", "--no-migrate", "--workers", "2"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_several_workers_need_redis(tmp_path):
    result = run_refused({"DATABASE_URL": f"{POSTGRES_URL}/unused"}, tmp_path)
    assert result.returncode != 0
    assert "--workers 2 needs REDIS_URL and a PostgreSQL DATABASE_URL" in result.stderr


def test_several_workers_need_postgresql(tmp_path):
    result = run_refused({"REDIS_URL": "redis://127.0.0.1:6379/0"}, tmp_path)
    assert result.returncode != 0
    assert "needs REDIS_URL and a PostgreSQL DATABASE_URL" in result.stderr


def test_two_workers_answer_on_one_port_and_stop_on_sigterm(redis_url, postgres_server):
    backend = Backend(workers=2)
    try:
        backend.prepare(agents=1)
        backend.start()
        parent = backend.process.pid
        workers = worker_pids(parent)
        assert len(workers) == 2
        token = backend.credentials[0][2]
        url = backend.url("rest")

        # Connections spread over both workers, and each worker answers the ones it got.
        connections = [open_ping(url, token) for _ in range(40)]
        try:
            port = int(url.rsplit(":", 1)[1])
            peers = {connection.sock.getsockname()[1] for connection in connections}
            served = {pid: established_on(pid, port, peers) for pid in workers}
            counts = {pid: len(held) for pid, held in served.items()}
            assert all(counts.values()), f"connections per worker: {counts}"
            assert len(set().union(*served.values())) == len(connections), counts  # every one held
        finally:
            for connection in connections:
                connection.close()

        # The HTTPS listener (auth) is served by the workers too.
        user, password, _ = backend.credentials[0]
        credentials = Credentials(user, password)
        assert asyncio.run(SessionClient(backend.url("auth")).renew(credentials, "worker-test"))
        assert ping(url, credentials.token) == 200
        assert backend.stop() == 0
        time.sleep(0.2)
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        assert "did not stop in time" not in (backend.data_dir / "server.log").read_text()
    finally:
        backend.cleanup()
