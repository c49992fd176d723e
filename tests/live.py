"""Start the real backend (``manage.py runbackend``) on free ports, sharing the test database.

End-to-end tests speak to it over real sockets, the way agents and dashboards do.
The test process and the server share one database, so a test can add rows
(agents, receivers) and the server sees them; tests using it run with
``transactional_db`` so their writes are committed.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bench.backend import free_port, wait_for_port
from poa_backend.core.plugins import plugin_row_models

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test process is using (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


class LiveBackend:
    """A running ``runbackend`` subprocess; ``ports`` maps plug-in row names to their ports."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.extra_env = env or {}
        self.ports: dict[str, int] = {}
        self.schemes: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        self.data_dir = Path(tempfile.mkdtemp(prefix="poa-live-"))
        self.log_path = self.data_dir / "server.log"

    def assign_ports(self) -> None:
        """Move every enabled row that names a port onto a free one (two rows on one port stay together)."""
        by_old_port: dict[int, int] = {}
        for model in plugin_row_models():
            for row in model.objects.filter(enabled=True):
                if isinstance(row.options, dict) and "port" in row.options:
                    new = by_old_port.setdefault(row.options["port"], free_port())
                    row.options = {**row.options, "host": "127.0.0.1", "port": new}
                    row.save(update_fields=["options"])
                    self.ports[row.name] = new
                    self.schemes[row.name] = row.options.get("scheme", "http")

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "POA_DATA_DIR", "POA_TEST_SQLITE")
        }
        env.update(
            DATABASE_URL=database_url(),
            POA_DATA_DIR=str(self.data_dir),
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            POA_JWT_SECRET=settings.POA_BACKEND["JWT_SECRET"],
            POA_CONFIG_REFRESH_INTERVAL="0.5",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, *args: str) -> "LiveBackend":
        if not self.ports:
            self.assign_ports()
        if self.log_path.exists():  # a restart: the last run's log stays beside, as server.log.1, .2...
            runs = len(list(self.data_dir.glob("server.log*")))
            self.log_path.rename(self.data_dir / f"server.log.{runs}")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runbackend", "--no-migrate", *args],
            cwd=ROOT,
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        for port in set(self.ports.values()):
            wait_for_port(port, self.process)
        return self

    def url(self, name: str, scheme: str | None = None) -> str:
        """Base URL of the listener of row ``name`` (scheme from the row unless given)."""
        return f"{scheme or self.schemes.get(name, 'http')}://127.0.0.1:{self.ports[name]}"

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def read_events(path: Path) -> list[dict[str, Any]]:
    """The JSON lines a RecordingReceiver wrote to ``path``."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
