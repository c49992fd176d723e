"""WebSocket peers that misbehave cannot hold the server's memory: liveness is a pong to the
server's ping, a socket that does not drain is closed, and per-connection input is bounded."""

import asyncio
import socket
import ssl
import time

import pytest
from websockets.asyncio.client import connect

from handlers.models import CustomHandler
from tests.dashboard_support import SECRET, dashboard, inject, message, receive
from tests.live import wait_until
from tests.security_support import client_frame, closed_by_peer, websocket_handshake

pytest_plugins = ["tests.dashboard_fixtures"]
pytestmark = pytest.mark.usefixtures("live_db")

FAST_PINGS = {"POA_WEBSOCKET_PING_INTERVAL": "1", "POA_WEBSOCKET_PING_TIMEOUT": "1"}


def feed_socket(backend, receive_buffer=None) -> socket.socket:
    return websocket_handshake(
        backend.ports["dashboard"], "/ws", {"wssecret": SECRET}, receive_buffer=receive_buffer
    )


def test_a_client_that_sends_frames_but_never_answers_pings_is_closed(feed_rows, live_backend):
    backend = live_backend(env=FAST_PINGS)
    sock = feed_socket(backend)
    deadline = time.monotonic() + 12
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            sock.sendall(client_frame(b"still here"))  # frames, but never a pong
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        closed = closed_by_peer(sock, 0.2)
    assert closed, "a peer that never answered a ping was kept open"


def test_a_client_that_answers_pings_stays_open(feed_rows, live_backend):
    backend = live_backend(env=FAST_PINGS)

    async def scenario():
        async with dashboard(backend) as socket:  # answers pings, as every WebSocket library does
            await asyncio.sleep(6)  # several ping rounds
            await asyncio.to_thread(inject, backend, message("node-a", {"type": "pending", "body": {}}))
            assert len(await receive(socket, 1)) == 1

    asyncio.run(scenario())


def test_a_dashboard_that_never_reads_is_closed(feed_rows, live_backend):
    backend = live_backend(env={"POA_WEBSOCKET_DRAIN_TIMEOUT": "1"})
    sock = feed_socket(backend, receive_buffer=4096)
    big = {"type": "custom", "body": {"padding": "x" * 100_000}}
    sent = 0
    while sent < 12_000_000 and "did not drain" not in backend.log:
        inject(backend, *[message("node-a", big) for _ in range(9)])  # under the 1 MiB body limit
        sent += 900_000
    assert wait_until(lambda: "did not drain" in backend.log, 10), backend.log
    assert closed_by_peer(sock, 10)


def test_a_flood_of_tiny_frames_is_closed(feed_rows, live_backend):
    """Frames of one read are all queued before the application runs: past four times the bound
    the connection is closed (1008; the close frame may be lost to the unread flood behind it)."""
    backend = live_backend()
    sock = feed_socket(backend)
    try:
        sock.sendall(client_frame(b"") * 60_000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_by_peer(sock, 10)
    assert wait_until(lambda: "frames waiting" in backend.log), backend.log


def test_websockets_over_the_tls_listener_open_through_the_admission_limits(feed_rows, live_backend):
    """The admission wrapper sits between TLS and the WebSocket protocol: a wss:// socket still opens."""
    CustomHandler.objects.filter(name="auth").update(enabled=True)  # the HTTPS listener
    backend = live_backend()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the live server's self-signed pair

    async def scenario():
        url = f"wss://127.0.0.1:{backend.ports['auth']}/ws"
        headers = {"wssecret": SECRET}
        async with connect(url, ssl=context, additional_headers=headers, open_timeout=10) as feed:
            await asyncio.to_thread(inject, backend, message("node-a", {"type": "pending", "body": {}}))
            assert len(await receive(feed, 1)) == 1

    asyncio.run(scenario())
