"""What the dashboard feed's tests share: rows, feed clients, injected messages, a Redis of their own.

Messages reach the server's receivers through ``tests.plugins.InjectHandler``
(``POST /test/inject``), served on the dashboard's listener, so they skip the
agents' intake: the feed must cope with whatever reaches it.
"""

import asyncio
import contextlib
import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.backend import free_port, wait_for_port
from receivers.models import Receiver
from tests.live import LiveBackend

SECRET = "dashboard-test-secret"
FIXTURES = Path(__file__).parent / "fixtures" / "agent"
WAIT = 15.0

INACTIVE_FRAME = (
    '{"agent_id":"%s","data":{"type":"statistics","body":{"active":false,"gasPrice":null,'
    '"hashrate":0,"mining":false,"peers":0,"syncing":null,"uptime":null}}}'
)


def sample(kind: str) -> dict:
    """The ``data`` of the agent's sample call of this kind."""
    return json.loads((FIXTURES / f"{kind}.json").read_text())["data"]


def message(agent_id: str, data: dict, data_type: str = "ethereum_metrics") -> dict:
    return {"agent_id": agent_id, "data_type": data_type, "data": data}


def expected_frame(agent_id: str, data: dict) -> str:
    return json.dumps({"agent_id": agent_id, "data": data}, ensure_ascii=False, separators=(",", ":"))


def information(agent_id: str) -> dict:
    """An information message naming the agent."""
    return message(
        agent_id, {"type": "information", "body": {**sample("information")["body"], "name": agent_id}}
    )


def set_feed_options(**options: object) -> None:
    """Change the dashboard row's options (before the server starts, or live: it rebuilds the receiver)."""
    row = Receiver.objects.get(name="dashboard")
    row.options = {**row.options, **options}
    row.save()


class ThrowawayRedis:
    """A redis-server of the test's own on a free port, that the test may stop and start again.

    It saves its data when stopped (SIGTERM) and reads it back at start, like a Redis
    an operator restarts.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="poa-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> "ThrowawayRedis":
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "3600 1",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(WAIT)
        self.process = None


def inject(backend: LiveBackend, *items: dict) -> None:
    request = urllib.request.Request(
        backend.url("dashboard", scheme="http") + "/test/inject",  # no row lookup: runs in threads
        data=json.dumps(list(items)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200


def feed_url(backend: LiveBackend) -> str:
    return backend.url("dashboard", scheme="ws") + "/ws"


def dashboard(backend: LiveBackend, secret: str | None = SECRET):
    headers = {} if secret is None else {"wssecret": secret}
    return connect(feed_url(backend), additional_headers=headers, open_timeout=WAIT, max_queue=None)


async def receive(socket, count: int) -> list[str]:
    return [await asyncio.wait_for(socket.recv(), WAIT) for _ in range(count)]


async def nothing_more(socket, seconds: float = 0.5) -> bool:
    try:
        await asyncio.wait_for(socket.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def close_code(socket) -> int | None:
    """Read until the server closes the socket; the code it closed with."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), WAIT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def wait_for_log(backend: LiveBackend, text: str) -> None:
    deadline = time.monotonic() + WAIT
    while text not in backend.log:
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{backend.log}"
        time.sleep(0.05)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def refused_status(backend: LiveBackend, secret: str | None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with dashboard(backend, secret):
            pass
    return refused.value.response.status_code


@contextlib.contextmanager
def logs_on_failure(*backends: LiveBackend):
    """Show the servers' logs with a failure: what the feed logged says why."""
    try:
        yield
    except BaseException as failure:
        logs = "\n".join(
            f"--- log of server {n}:\n{backend.log[-6000:]}" for n, backend in enumerate(backends)
        )
        raise AssertionError(f"{failure!r}\n{logs}") from failure
