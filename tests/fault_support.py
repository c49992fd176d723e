"""Throwaway services for fault tests: a Redis and a PostgreSQL cluster of the test's own, on free
ports and temporary directories, that the test stops and starts. The machine's services are never
touched."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

from bench.backend import free_port
from tests.agent_client import Reply


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


class MotoServer:
    """``python -m moto.server`` on one port; stop() and start() again keep the port (not the data)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"moto server did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


# The backend under fault: its own PostgreSQL, Redis (and DynamoDB), run with --workers 2.

SETUP_SCRIPT = """
import json
from poa_backend.core.models import MetricType
from receivers.models import Receiver
from tests.agent_client import create_agent_user
from tests.live import LiveBackend

create_agent_user("fault-agent", "fault-password")
Receiver.objects.filter(name="recording").delete()
recording = Receiver.objects.create(
    name="recording", class_path="tests.plugins.RecordingReceiver", options={"path": PATH}
)
if DYNAMODB:
    row = Receiver.objects.get(name="dynamodb_blocks")
    row.options = {**row.options, "endpoint_url": DYNAMODB, "create_table": True, "retry_max_delay": 1.0}
    row.enabled = True
    row.full_clean()
    row.save()
backend = LiveBackend()
backend.assign_ports()
print("PORTS=" + json.dumps(backend.ports))
"""


#: What each worker logs once it serves: its receivers run (the listeners open right after).
READY = "receiver ethereum_statistics: started"


class FaultRig:
    """A PostgreSQL cluster and a Redis of the test's own, migrated once; backends started on them."""

    def __init__(self) -> None:
        from tests.live import LiveBackend

        self.pg = ThrowawayPostgres().start()
        self.redis = ThrowawayRedis(Path(tempfile.mkdtemp(prefix="poa-redis-"))).start()
        self.env = {
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "POA_INACTIVITY_TIMEOUT": "5",
            "POA_RECEIVER_RETRY_MAX_DELAY": "2",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.backend = LiveBackend(env=self.env)
        self.events_path = self.backend.data_dir / "events.jsonl"
        self._manage("migrate", "--noinput")

    def _manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=Path(__file__).resolve().parent.parent,
            env=self.backend.environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def prepare(self, dynamodb_url: str = "") -> None:
        """Fresh stored rows and rows for a test: the agent user, ports, the recording receiver."""
        import json

        import psycopg

        with psycopg.connect(self.pg.url, autocommit=True) as db:
            db.execute(
                "TRUNCATE receivers_ethereumstatistics, receivers_systemstatistics, receivers_deadletter, "
                "receivers_knownagent, handlers_agentuser CASCADE"
            )
        import redis

        # A previous test's agents (same names) must not end their periods in this one.
        redis.Redis.from_url(self.redis.url).flushall()
        script = SETUP_SCRIPT.replace("PATH", repr(str(self.events_path))).replace(
            "DYNAMODB", repr(dynamodb_url)
        )
        output = self._manage("shell", "-c", script)
        line = next(line for line in output.splitlines() if line.startswith("PORTS="))
        self.backend.ports = json.loads(line.removeprefix("PORTS="))
        self.backend.schemes = {}
        self.events_path.unlink(missing_ok=True)

    def start(self) -> None:
        """Start the backend and wait until both workers serve (their receivers started)."""
        from tests.live import wait_until

        self.backend.start("--workers", "2")
        assert wait_until(lambda: self.backend.log.count(READY) >= 2, timeout=60), self.backend.log

    def rows(self) -> list[tuple[str, int]]:
        """(agent, number) of every stored Ethereum statistics row."""
        import psycopg

        with psycopg.connect(self.pg.url) as db:
            return db.execute("SELECT agent_id, hashrate FROM receivers_ethereumstatistics").fetchall()

    def worker_pids(self) -> list[int]:
        parent = self.backend.process.pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(stat.parent.name))
        return children

    def close(self) -> None:
        self.backend.stop()
        self.redis.stop()
        self.pg.destroy()


def answer(call: str, reply: Reply) -> str:
    """How a REST answer is counted: its status, and for an error its body, which says why."""
    return f"{call} {reply.status}" if reply.status < 400 else f"{call} {reply.status} {reply.body[:80]!r}"


class Load:
    """Steady numbered reports from agents, half over REST, half over the agent socket, each
    agent one call at a time; what was answered success is counted per agent."""

    def __init__(
        self,
        rest_url: str,
        socket_url: str,
        token: str,
        kind: str = "statistics",
        agents: int = 20,
        interval: float = 0.1,
    ) -> None:
        import threading
        from collections import Counter, defaultdict

        self.rest_url = rest_url
        self.socket_url = socket_url
        self.token = token
        self.kind = kind
        self.interval = interval
        self.agents = [f"fault-{kind}-{n:02d}" for n in range(agents)]
        self.acked: dict[str, set[int]] = defaultdict(set)
        self.answers: Counter = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._rest if n % 2 == 0 else self._socket, args=(agent,), daemon=True)
            for n, agent in enumerate(self.agents)
        ]

    def start(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _count(self, answer: object, agent: str | None = None, n: int | None = None) -> None:
        with self._lock:
            self.answers[answer] += 1
            if agent is not None:
                self.acked[agent].add(n)

    def body(self, agent: str, n: int) -> dict:
        if self.kind == "block":
            block = json.loads((Path(__file__).parent / "fixtures" / "agent" / "block.json").read_text())
            block["data"]["body"].update(number=n, hash=f"0x{n:064x}")
            return {**block, "id": agent}
        report = {"active": True, "mining": False, "hashrate": n, "peers": 1, "gasPrice": 1, "syncing": False}
        return {"id": agent, "type": "ethereum_metrics", "data": {"type": "statistics", "body": report}}

    def _rest(self, agent: str) -> None:
        from tests.agent_client import call

        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                reply = call(self.rest_url, "/data", self.body(agent, n), "json", self.token)
                self._count(answer("data", reply), agent if reply.status == 200 else None, n)
                ping = call(self.rest_url, "/ping", {"id": agent}, "json", self.token)
                self._count(answer("ping", ping))
            except OSError as exc:  # the backend restarting
                self._count(f"rest {type(exc).__name__}")
            self._stop.wait(self.interval)

    def _socket(self, agent: str) -> None:
        from websockets.exceptions import InvalidHandshake, WebSocketException
        from websockets.sync.client import connect

        n = 0
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self._stop.is_set():
            try:
                with connect(self.socket_url, additional_headers=headers, open_timeout=5) as ws:
                    while not self._stop.is_set():
                        n += 1
                        ws.send(json.dumps({"call": "data", **self.body(agent, n), "ref": n}))
                        reply = json.loads(ws.recv(timeout=10))
                        ok = reply == {"result": "success", "ref": n}
                        self._count("data success" if ok else f"data {reply}", agent if ok else None, n)
                        ws.send(json.dumps({"call": "ping", "id": agent, "ref": f"p{n}"}))
                        self._count(f"ping {json.loads(ws.recv(timeout=10)).get('result')}")
                        self._stop.wait(self.interval)
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
                self._count(f"socket {type(exc).__name__}")
                self._stop.wait(0.2)

    def sent(self) -> set[tuple[str, int]]:
        with self._lock:
            return {(agent, n) for agent, numbers in self.acked.items() for n in numbers}


def missing_and_duplicated(acked: set[tuple[str, int]], stored: list[tuple[str, int]]) -> tuple[set, dict]:
    from collections import Counter

    counts = Counter(stored)
    return acked - set(counts), {key: count for key, count in counts.items() if count > 1}


class PortGate:
    """A TCP forwarder to ``target_port`` on a port of its own: ``close()`` refuses connections
    and cuts the open ones, as a stopped server would; ``open()`` serves again. A sink that
    keeps nothing across a restart (moto) stays behind it with its data."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.port = free_port()
        self.target_port = target_port
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> "PortGate":
        import threading

        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._open.clear()
        wait_for(self.port, up=False)

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.close()
                except OSError:
                    pass
