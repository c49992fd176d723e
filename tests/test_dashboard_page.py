"""The web dashboard in a real browser: headless Chromium against the running backend.

Chromium is Debian's package (``make install-dev`` installs it); Playwright drives it
through ``executable_path`` and never downloads a browser of its own. Screenshots of
the runs are left in ``test-artifacts/``.

Staff credentials travel only over HTTPS: the staff run serves the dashboard's
listener over HTTPS (its self-signed pair); on plain HTTP the page sends visitors to
the HTTPS listener, unless the dashboard is public.
"""

import asyncio
import copy
import json
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from receivers.alerts.models import AlertRule
from receivers.models import Receiver
from simulator.agent import SimulatedAgent
from simulator.credentials import local_credentials
from simulator.payloads import ETHEREUM, NETWORKING, SYSTEM, Chain
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
    "--ignore-certificate-errors",  # the listener's self-signed pair, for pages and their socket
]
INACTIVITY_TIMEOUT = 3.0
BLOCK = json.loads((Path(__file__).parent / "fixtures" / "agent" / "block.json").read_text())["data"]["body"]
# Each agent's head: distinct numbers, so a row showing another's would be caught.
HEADS = {"node-alpha": 7_000_105, "node-bravo": 7_000_104, "node-charlie": 7_000_101}
CLIENTS = {"node-alpha": "1.4.2", "node-bravo": "1.4.2", "node-charlie": "1.3.9"}
# No two texts of a chart may overlap (tick labels included).
OVERLAPPING_TEXTS = """(id) => {
  const boxes = [...document.querySelectorAll(`#${id} text`)].map((t) => t.getBoundingClientRect());
  const pairs = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) pairs.push([i, i + 1]);
  }));
  return pairs.length;
}"""


def block(number, timestamp):
    body = copy.deepcopy(BLOCK)
    body.update(number=number, timestamp=timestamp, hash=f"0x{number:064x}")
    return body


@pytest.fixture
def staff(live_db):
    return User.objects.create_user("operator", password="dashboard-pass-1", is_staff=True)


def set_dashboard(**options):
    row = Receiver.objects.get(name="dashboard")
    row.options = {**row.options, **options}
    row.save()


@asynccontextmanager
async def chromium():
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="poa-chromium-"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1440, "height": 1100},
            ignore_https_errors=True,
        )
        try:
            yield context
        finally:
            await context.close()


async def drive_agents(rest_url, stopping, names=None):
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
        if names and agent_id in names:
            information["name"] = names[agent_id]
        await agent.data(ETHEREUM, "information", information)
        await agent.data(ETHEREUM, "statistics", agent.state.statistics(HEADS[agent_id]))
        await agent.data(SYSTEM, "statistics", agent.state.system_statistics())
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
            await agent.data(SYSTEM, "statistics", agent.state.system_statistics())
            await asyncio.sleep(1.0)

    alive = [asyncio.create_task(keep_alive(agents[name])) for name in ("node-alpha", "node-bravo")]
    return agents, alive


async def wait_for_text(page, selector, predicate, timeout=15_000):
    """Until the text of ``selector`` satisfies the JavaScript ``predicate``."""
    await page.wait_for_function(
        "([selector, predicate]) => { const e = document.querySelector(selector);"
        " return e !== null && new Function('t', `return (${predicate})(t)`)(e.textContent); }",
        arg=[selector, predicate],
        timeout=timeout,
    )


async def shows_heads(page):
    for agent_id, head in HEADS.items():
        await page.wait_for_function(
            "([id, text]) => document.querySelector(`tr[data-agent='${id}'] td.block-number`)"
            "?.textContent === text",
            arg=[agent_id, f"#{head:,}"],
            timeout=10_000,
        )


async def sign_in(page, base):
    """Not signed in: the page sends the browser to the admin login, and back after it."""
    await page.goto(base + "/")
    assert "/admin/login/" in page.url
    await page.fill("#id_username", "operator")
    await page.fill("#id_password", "dashboard-pass-1")
    await page.click("input[type=submit]")
    await page.wait_for_url(base + "/")


def test_staff_sign_in_over_https_and_see_agents_live(staff, live_backend):
    ARTIFACTS.mkdir(exist_ok=True)
    set_dashboard(scheme="https")
    backend = live_backend(env={"POA_INACTIVITY_TIMEOUT": str(INACTIVITY_TIMEOUT)})
    base = backend.url("dashboard")
    assert base.startswith("https://")

    async def scenario():
        stopping = asyncio.Event()
        alive, agents = [], {}
        async with chromium() as context:
            try:
                page = await context.new_page()
                await sign_in(page, base)
                await page.wait_for_selector("#connection.live", timeout=10_000)
                agents, alive = await drive_agents(backend.url("rest"), stopping)
                await shows_heads(page)
                await page.screenshot(path=str(ARTIFACTS / "dashboard-staff.png"), full_page=True)
            finally:
                stopping.set()
                await asyncio.gather(*alive, return_exceptions=True)
                for agent in agents.values():
                    await agent.transport.close()

    asyncio.run(scenario())


def test_propagation_uptime_alerts_recent_blocks_and_a_node_in_the_browser(live_db, live_backend):
    ARTIFACTS.mkdir(exist_ok=True)
    set_dashboard(public_dashboard=True)
    AlertRule.objects.filter(name="node_down").update(for_seconds=1)
    backend = live_backend(env={"POA_INACTIVITY_TIMEOUT": str(INACTIVITY_TIMEOUT)})
    base = backend.url("dashboard")

    async def scenario():
        stopping = asyncio.Event()
        alive, agents = [], {}
        async with chromium() as context:
            try:
                page = await context.new_page()
                await page.goto(base + "/")
                await page.wait_for_selector("#connection.live", timeout=10_000)

                agents, alive = await drive_agents(backend.url("rest"), stopping)
                await shows_heads(page)
                for agent_id in HEADS:
                    row = page.locator(f'tr[data-agent="{agent_id}"]')
                    assert await row.get_attribute("data-status") == "active"
                    assert CLIENTS[agent_id] in await row.inner_text()
                assert await page.inner_text("#best-block") == f"#{max(HEADS.values()):,}"
                assert await page.inner_text("#avg-block-time") == "5.0 s"

                # Propagation and uptime, from the network view: alpha reported its head first.
                await wait_for_text(page, 'tr[data-agent="node-alpha"] td.propagation', "t => t === '0 ms'")
                await wait_for_text(
                    page, 'tr[data-agent="node-bravo"] td.propagation', "t => /^\\d+ ms$/.test(t)"
                )
                await wait_for_text(page, 'tr[data-agent="node-charlie"] td.uptime', "t => t === '100 %'")
                await page.wait_for_function(
                    "() => [...document.querySelectorAll('#propagation-chart rect')]"
                    ".reduce((n, r) => n + Number(r.dataset.count), 0) > 0",
                    timeout=10_000,
                )
                for chart in ("block-time-chart", "latency-chart", "propagation-chart"):
                    assert await page.evaluate(OVERLAPPING_TEXTS, chart) == 0, chart

                # A page opened now shows the recent blocks at once, before any new block.
                late = await context.new_page()
                await late.goto(base + "/")
                await late.wait_for_function(
                    "() => document.querySelectorAll('#block-time-chart rect.bar').length >= 8", timeout=5_000
                )
                assert await late.inner_text("#avg-block-time") == "5.0 s"
                await late.close()

                # charlie stopped: inactive within the timeout, then node_down fires: banner, column, history.
                await page.wait_for_selector(
                    'tr[data-agent="node-charlie"][data-status="inactive"]',
                    timeout=(INACTIVITY_TIMEOUT + 7) * 1000,
                )
                await wait_for_text(page, "#alert-banner", "t => t.includes('node_down on node-charlie')")
                assert await page.is_visible("#alert-banner")
                assert await page.inner_text('tr[data-agent="node-charlie"] td.alerts') == "node_down"
                assert await page.inner_text('tr[data-agent="node-alpha"] td.alerts') == "\N{EN DASH}"
                await wait_for_text(
                    page, "#alert-events", "t => t.includes('fired node_down on node-charlie')"
                )
                assert await page.inner_text("#active-nodes") == "2 / 3"
                await page.wait_for_timeout(600)  # one more tick of the ages before the picture
                await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

                # A click on a row: that node's charts over the last hours, from the stored statistics.
                await page.click('tr[data-agent="node-alpha"]')
                await page.wait_for_selector('#node-detail[data-node="node-alpha"][data-loaded="true"]')
                assert await page.inner_text("#detail-name") == "node-alpha"
                for chart in ("detail-peers", "detail-active", "detail-system"):
                    points = await page.get_attribute(f"#{chart} polyline", "points")
                    assert points, chart
                    assert await page.evaluate(OVERLAPPING_TEXTS, chart) == 0, chart
                assert "Uptime (24 h)" in await page.inner_text("#detail-facts")
                await page.screenshot(path=str(ARTIFACTS / "dashboard-node.png"), full_page=True)
                await page.click("#detail-close")
                assert await page.is_hidden("#node-detail")
            finally:
                stopping.set()
                await asyncio.gather(*alive, return_exceptions=True)
                for agent in agents.values():
                    await agent.transport.close()

    asyncio.run(scenario())


def test_a_name_that_is_not_a_string_breaks_nothing(live_db, live_backend):
    set_dashboard(public_dashboard=True)
    backend = live_backend(env={"POA_INACTIVITY_TIMEOUT": str(INACTIVITY_TIMEOUT)})
    base = backend.url("dashboard")

    async def scenario():
        stopping = asyncio.Event()
        alive, agents = [], {}
        async with chromium() as context:
            try:
                page = await context.new_page()
                errors = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(base + "/")
                await page.wait_for_selector("#connection.live", timeout=10_000)
                agents, alive = await drive_agents(backend.url("rest"), stopping, names={"node-bravo": 12345})
                await shows_heads(page)
                name = page.locator('tr[data-agent="node-bravo"] td.name strong')
                assert await name.inner_text() == "node-bravo"
                assert errors == []
                await page.screenshot(path=str(ARTIFACTS / "dashboard-public.png"), full_page=True)
            finally:
                stopping.set()
                await asyncio.gather(*alive, return_exceptions=True)
                for agent in agents.values():
                    await agent.transport.close()

    asyncio.run(scenario())


def test_anonymous_visitors_on_plain_http_go_to_https_and_the_feed_refuses_them(live_db, live_backend):
    backend = live_backend()
    base = backend.url("dashboard")
    assert base.startswith("http://")
    reply = request(base, "/", method="GET")
    assert reply.status == 302
    assert reply.headers["location"] == f"https://127.0.0.1:{backend.ports['auth']}/"

    async def open_feed():
        url = base.replace("http", "ws") + "/dashboard/feed"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, origin=base, open_timeout=5):
                pass
        return refused.value.response.status_code

    assert asyncio.run(open_feed()) == 403
    assert request(base, "/dashboard/network", method="GET").status == 403


def test_public_dashboard_option_opens_page_feed_and_data_where_they_are(live_db, live_backend, staff):
    set_dashboard(public_dashboard=True)
    backend = live_backend()
    base = backend.url("dashboard")
    reply = request(base, "/", method="GET")
    assert reply.status == 200
    assert b"POA network" in reply.body
    network = request(base, "/dashboard/network", method="GET")
    assert network.status == 200
    assert set(json.loads(network.body)) == {"network", "nodes", "blocks", "alerts", "events"}
    history = request(base, "/dashboard/nodes/nobody/history?hours=2", method="GET")
    assert json.loads(history.body) == {"node": "nobody", "hours": 2, "ethereum": [], "system": []}
    assert request(base, "/dashboard/nodes/nobody/history?hours=x", method="GET").status == 400

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
