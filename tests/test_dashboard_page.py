"""The web dashboard in a real browser: headless Chromium against the running backend.

Chromium is Debian's package (``make install-dev`` installs it); Playwright drives it
through ``executable_path`` and never downloads a browser of its own. The screenshot of
the run is left in ``test-artifacts/dashboard.png``.
"""

import asyncio
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from receivers.models import Receiver
from simulator.agent import SimulatedAgent
from simulator.credentials import local_credentials
from simulator.payloads import ETHEREUM, NETWORKING, Chain
from simulator.stats import Recorder
from simulator.transports import RestTransport
from tests.agent_client import request

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INACTIVITY_TIMEOUT = 3.0
BLOCK = json.loads((Path(__file__).parent / "fixtures" / "agent" / "block.json").read_text())["data"]["body"]
# Each agent's head: distinct numbers, so a row showing another's would be caught.
HEADS = {"node-alpha": 7_000_105, "node-bravo": 7_000_104, "node-charlie": 7_000_101}
CLIENTS = {"node-alpha": "1.4.2", "node-bravo": "1.4.2", "node-charlie": "1.3.9"}


def block(number, timestamp):
    body = copy.deepcopy(BLOCK)
    body.update(number=number, timestamp=timestamp, hash=f"0x{number:064x}")
    return body


@pytest.fixture
def staff(live_db):
    return User.objects.create_user("operator", password="dashboard-pass-1", is_staff=True)


@pytest.fixture
def backend(live_backend):
    return live_backend(env={"POA_INACTIVITY_TIMEOUT": str(INACTIVITY_TIMEOUT)})


def dashboard_url(backend):
    return backend.url("dashboard")


async def drive_agents(rest_url, stopping):
    """Three agents report a few blocks each; alpha and bravo keep pinging, charlie stops."""
    credentials = await asyncio.to_thread(local_credentials, "browser-test", len(HEADS))
    recorder = Recorder()
    agents = {}
    for index, (agent_id, creds) in enumerate(zip(HEADS, credentials, strict=True)):
        transport = RestTransport(rest_url, agent_id, creds, recorder)
        agents[agent_id] = SimulatedAgent(index, agent_id, transport, Chain(history_depth=1), stamp=False)
    now = int(time.time())
    for agent_id, agent in agents.items():
        information = agent.state.information()
        information["client"] = CLIENTS[agent_id]
        await agent.data(ETHEREUM, "information", information)
        await agent.data(ETHEREUM, "statistics", agent.state.statistics(HEADS[agent_id]))
        head = HEADS[agent_id]
        for offset in range(8, -1, -1):  # the last nine blocks, oldest first, five seconds apart
            number = head - offset  # one chain: a block's time depends on its number alone
            await agent.data(ETHEREUM, "block", block(number, now - 5 * (max(HEADS.values()) - number)))
        await agent.data(ETHEREUM, "pending", {"pending": 2 + agent.index})
    for round_ in range(4):
        for agent in agents.values():
            round_trip = await agent.ping()
            assert round_trip is not None
            await agent.data(NETWORKING, "latency", {"latency": 15 + 20 * agent.index + 3 * round_})
    assert not recorder.rejected, recorder.rejected
    assert not recorder.errors, recorder.errors

    async def keep_alive(agent):
        while not stopping.is_set():
            await agent.ping()
            await agent.data(NETWORKING, "latency", {"latency": 10 + 20 * agent.index})
            await agent.data(ETHEREUM, "statistics", agent.state.statistics(HEADS[agent.agent_id]))
            await asyncio.sleep(1.0)

    alive = [asyncio.create_task(keep_alive(agents[name])) for name in ("node-alpha", "node-bravo")]
    return agents, alive


def test_staff_sees_agents_live_and_one_turning_inactive(staff, backend):
    ARTIFACTS.mkdir(exist_ok=True)
    base = dashboard_url(backend)
    rest_url = backend.url("rest")

    async def scenario():
        stopping = asyncio.Event()
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="poa-chromium-"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1440, "height": 980},
            )
            try:
                page = await context.new_page()
                # Not signed in: the page sends the browser to the admin login, and back after it.
                await page.goto(base + "/")
                assert "/admin/login/" in page.url
                await page.fill("#id_username", "operator")
                await page.fill("#id_password", "dashboard-pass-1")
                await page.click("input[type=submit]")
                await page.wait_for_url(base + "/")
                await page.wait_for_selector("#connection.live", timeout=10_000)

                agents, alive = await drive_agents(rest_url, stopping)
                for agent_id, head in HEADS.items():
                    cell = page.locator(f'tr[data-agent="{agent_id}"] td.block-number')
                    await cell.wait_for(timeout=10_000)
                    await page.wait_for_function(
                        "([id, text]) => document.querySelector(`tr[data-agent='${id}'] td.block-number`)"
                        "?.textContent === text",
                        arg=[agent_id, f"#{head:,}"],
                        timeout=10_000,
                    )
                    row = page.locator(f'tr[data-agent="{agent_id}"]')
                    assert await row.get_attribute("data-status") == "active"
                    assert CLIENTS[agent_id] in await row.inner_text()
                assert await page.inner_text("#best-block") == f"#{max(HEADS.values()):,}"
                assert await page.inner_text("#avg-block-time") == "5.0 s"

                # charlie stopped after its last call: inactive within the inactivity timeout (and a margin).
                stopped_at = time.monotonic()
                await page.wait_for_selector(
                    'tr[data-agent="node-charlie"][data-status="inactive"]',
                    timeout=(INACTIVITY_TIMEOUT + 7) * 1000,
                )
                assert time.monotonic() - stopped_at < INACTIVITY_TIMEOUT + 7
                for agent_id in ("node-alpha", "node-bravo"):
                    row = page.locator(f'tr[data-agent="{agent_id}"]')
                    assert await row.get_attribute("data-status") == "active"
                assert await page.inner_text("#active-nodes") == "2 / 3"
                await page.wait_for_timeout(600)  # one more tick of the ages before the picture
                await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            finally:
                stopping.set()
                if "alive" in locals():
                    await asyncio.gather(*alive, return_exceptions=True)
                    for agent in agents.values():
                        await agent.transport.close()
                await context.close()

    asyncio.run(scenario())


def test_anonymous_visitors_are_sent_to_the_login_and_the_feed_refuses_them(live_db, backend):
    base = dashboard_url(backend)
    reply = request(base, "/", method="GET")
    assert reply.status == 302
    assert reply.headers["location"] == "/admin/login/?next=/"

    async def open_feed():
        url = base.replace("http", "ws") + "/dashboard/feed"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, origin=base, open_timeout=5):
                pass
        return refused.value.response.status_code

    assert asyncio.run(open_feed()) == 403


def test_public_dashboard_option_opens_page_and_feed(live_db, live_backend, staff):
    row = Receiver.objects.get(name="dashboard")
    row.options = {**row.options, "public_dashboard": True}
    row.save()
    backend = live_backend()
    base = dashboard_url(backend)
    reply = request(base, "/", method="GET")
    assert reply.status == 200
    assert b"POA network" in reply.body

    async def read_catchup():
        url = base.replace("http", "ws") + "/dashboard/feed"
        async with connect(url, origin=base, open_timeout=5) as socket:
            return socket.state.name

    assert asyncio.run(read_catchup()) == "OPEN"

    async def cross_site():
        url = base.replace("http", "ws") + "/dashboard/feed"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, origin="http://elsewhere.example", open_timeout=5):
                pass
        return refused.value.response.status_code

    assert asyncio.run(cross_site()) == 403
