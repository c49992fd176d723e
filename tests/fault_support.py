"""Throwaway services for fault tests: a Redis and a PostgreSQL cluster of the test's own, on free
ports and temporary directories, that the test stops and starts. The machine's services are never
touched."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path

from bench.backend import free_port


def wait_for(port: int, up: bool, timeout: float = 30.0) -> None:
    """Until ``port`` accepts connections (``up``) or refuses them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise AssertionError(f"port {port} still {'closed' if up else 'open'} after {timeout}s")


class ThrowawayRedis:
    """``redis-server`` on its own port; its data (append-only file) survives stop() and start()."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "ThrowawayRedis":
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.port, up=True)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
        wait_for(self.port, up=False)


def _postgres_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name) or name


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory on its own port (run as the ``postgres`` user
    when the tests run as root: initdb refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        # Its own directory under /tmp: the postgres user cannot reach into root's pytest tmp_path.
        self.directory = directory = Path(tempfile.mkdtemp(prefix="poa-pg-"))
        self.data = directory / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            _postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True)

    def start(self) -> "ThrowawayPostgres":
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "log"),
            "-w",
            "start",
        )
        wait_for(self.port, up=True)
        return self

    def stop(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        wait_for(self.port, up=False)

    def destroy(self) -> None:
        subprocess.run(
            [*self._as_user, _postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
