"""Helpers for the ethstats tests: the rows, a node's socket, the dashboard feed."""

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from handlers.models import CustomHandler
from receivers.models import Receiver
from tests.live import LiveBackend

FEED_SECRET = "ethstats-feed-secret"
SHARED_SECRET = "shared-ethstats-secret"
WAIT = 15.0
READY = '{"emit":["ready"]}'
SERVER_CLOSE = '"primus::server::close"'


def use_rows(**options: Any) -> None:
    """Only the ethstats handler (with ``options`` on top of its row's) and the dashboard feed run."""
    CustomHandler.objects.exclude(name="ethstats").update(enabled=False)
    row = CustomHandler.objects.get(name="ethstats")
    row.options = {**row.options, **options}
    row.enabled = True
    row.save()
    Receiver.objects.exclude(name__in=["dashboard", "recording"]).update(enabled=False)
    dashboard = Receiver.objects.get(name="dashboard")
    dashboard.options = {**dashboard.options, "secret": FEED_SECRET}
    dashboard.save()


def node_url(backend: LiveBackend, path: str = "/api") -> str:
    return backend.url("ethstats", scheme="ws") + path


def open_node(backend: LiveBackend, path: str = "/api", **kwargs: Any):
    return connect(node_url(backend, path), max_size=None, open_timeout=WAIT, **kwargs)


def open_feed(backend: LiveBackend):
    url = backend.url("dashboard", scheme="ws") + "/ws"
    return connect(url, additional_headers={"wssecret": FEED_SECRET}, open_timeout=WAIT, max_queue=None)


async def login(socket, hello: str) -> str:
    """Send the hello; the server's first frame."""
    await socket.send(hello)
    return await asyncio.wait_for(socket.recv(), WAIT)


async def feed_frames(feed, count: int) -> list[dict]:
    return [json.loads(await asyncio.wait_for(feed.recv(), WAIT)) for _ in range(count)]


async def feed_until(feed, agent_id: str, kind: str | None) -> dict:
    """The next feed frame of ``agent_id`` whose data is of ``kind`` (any kind: None); others skipped."""
    while True:
        frame = json.loads(await asyncio.wait_for(feed.recv(), WAIT))
        if frame["agent_id"] == agent_id and kind in (None, frame["data"]["type"]):
            return frame["data"]


async def silent(socket, seconds: float = 1.0) -> bool:
    """Whether nothing arrives on ``socket`` for ``seconds``."""
    try:
        frame = await asyncio.wait_for(socket.recv(), seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame {frame!r}")
