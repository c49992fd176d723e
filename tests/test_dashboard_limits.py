"""The feed cannot be poisoned or stalled: unencodable messages, slow dashboards, a stopping receiver.

Each test runs against the real server, fed through ``tests.plugins.InjectHandler``,
which skips the agents' intake: whatever reaches the receiver must not break the feed.
"""

import asyncio
import urllib.request

import pytest

from receivers.dashboard.hub import GOING_AWAY_CODE, OVERFLOW_CODE
from tests.dashboard_support import (
    WAIT,
    close_code,
    dashboard,
    expected_frame,
    information,
    inject,
    message,
    nothing_more,
    receive,
    sample,
    set_feed_options,
)

pytest_plugins = ["tests.dashboard_fixtures"]
pytestmark = pytest.mark.usefixtures("live_db")


def scrape(backend) -> str:
    with urllib.request.urlopen(
        backend.url("dashboard", scheme="http") + "/metrics", timeout=WAIT
    ) as response:
        return response.read().decode()


def test_a_message_that_cannot_be_encoded_is_skipped_and_the_feed_goes_on(feed_rows, live_backend):
    backend = live_backend()
    lone_surrogate_in_data = message("node-a", {"type": "information", "body": {"name": "\ud800"}})
    lone_surrogate_in_id = message("node-\udfff", sample("statistics"))

    async def scenario():
        async with dashboard(backend) as first, dashboard(backend) as second:
            await asyncio.to_thread(
                inject,
                backend,
                message("node-a", sample("pending")),
                lone_surrogate_in_data,
                lone_surrogate_in_id,
                information("node-a"),
            )
            for socket in (first, second):  # the rest of the batch goes through
                assert await receive(socket, 2) == [
                    expected_frame("node-a", sample("pending")),
                    expected_frame("node-a", information("node-a")["data"]),
                ]
            await asyncio.to_thread(inject, backend, message("node-a", sample("block")))
            for socket in (first, second):  # and every dashboard is still fed afterwards
                assert await receive(socket, 1) == [expected_frame("node-a", sample("block"))]
        async with dashboard(backend) as late:  # the bad information never entered the catch-up
            assert await receive(late, 1) == [expected_frame("node-a", information("node-a")["data"])]
            assert await nothing_more(late)

    asyncio.run(scenario())
    figures = scrape(backend)
    assert 'poa_dashboard_feed_events_total{event="messages_unencodable",receiver="dashboard"} 2.0' in figures
    assert 'poa_dashboard_feed_events_total{event="frames_sent",receiver="dashboard"} 7.0' in figures


def test_a_dashboard_further_behind_than_the_byte_bound_is_closed_and_catches_up(feed_rows, live_backend):
    set_feed_options(buffer_bytes=4096)  # the frame bound (buffer_size, 2000) is far away
    backend = live_backend()
    sent = [
        message(f"node-{n}", {"type": "information", "body": {"name": f"node-{n}", "notes": "x" * 1000}})
        for n in range(8)
    ]

    async def scenario():
        async with dashboard(backend) as socket:
            await asyncio.to_thread(inject, backend, *sent)  # one batch of 8 kB: over the bound
            assert await close_code(socket) == OVERFLOW_CODE
        async with dashboard(backend) as again:
            assert await receive(again, len(sent)) == [expected_frame(m["agent_id"], m["data"]) for m in sent]

    asyncio.run(scenario())


def test_dashboards_are_told_to_reconnect_when_the_receiver_stops(feed_rows, live_backend):
    backend = live_backend()

    async def scenario():
        async with dashboard(backend) as socket:
            await asyncio.to_thread(set_feed_options, buffer_size=1999)  # an edit: the receiver is rebuilt
            return await close_code(socket)

    assert asyncio.run(scenario()) == GOING_AWAY_CODE
