"""/metrics: counters move by exactly the known traffic; figures of several processes add up."""

import asyncio
import os
import subprocess
import sys
import textwrap

from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from handlers.auth.tokens import issue_token
from poa_backend.core import metrics
from receivers.models import Receiver
from tests.agent_client import call, create_agent_user, request, sample
from tests.live import wait_until


def scrape(base_url, headers=None):
    reply = request(base_url, "/metrics", method="GET", headers=headers)
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(reply.body.decode()):
        for sample_ in family.samples:
            values[(sample_.name, tuple(sorted(sample_.labels.items())))] = sample_.value
    return values


def value(values, name, **labels):
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_by_the_traffic_sent(live_backend):
    create_agent_user("metrics-agent", "metrics-pass-1")
    token = issue_token("metrics-agent")
    backend = live_backend()
    rest = backend.url("rest")
    secret = Receiver.objects.get(name="dashboard").options["secret"]
    before = scrape(rest)

    statistics = sample("statistics")
    for _ in range(3):
        assert call(rest, "/data", statistics, token=token).status == 200
    for _ in range(2):
        assert call(rest, "/data", sample("latency"), token=token).status == 200
    assert call(rest, "/ping", {"id": statistics["id"]}, token=token).status == 200
    assert request(rest, "/data", b"{}", {"Content-Type": "text/plain"}).status == 415
    for _ in range(2):
        bad = dict(statistics, type="no_such_metrics")
        assert call(rest, "/data", bad, token=token).status == 422

    def delivered(values, receiver):
        return value(values, "poa_receiver_delivered_messages_total", receiver=receiver)

    def settled():
        after = scrape(rest)
        return (
            delivered(after, "ethereum_statistics") - delivered(before, "ethereum_statistics") == 3
            and delivered(after, "dashboard") - delivered(before, "dashboard") == 5
            and delivered(after, "known_agents") - delivered(before, "known_agents") == 5
        )

    assert wait_until(settled, timeout=10)

    url = backend.url("dashboard").replace("http", "ws") + "/ws"

    async def with_dashboard_open():
        async with connect(url, additional_headers={"wssecret": secret}, open_timeout=5):
            await asyncio.sleep(0.3)
            return await asyncio.to_thread(scrape, rest)

    after = asyncio.run(with_dashboard_open())

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    accepted = "poa_messages_accepted_total"
    assert moved(accepted, handler="rest", metric_type="ethereum_metrics", kind="statistics") == 3
    assert moved(accepted, handler="rest", metric_type="networking_metrics", kind="latency") == 2
    rejected = "poa_messages_rejected_total"
    assert moved(rejected, handler="rest", reason="415", metric_type="") == 1
    assert moved(rejected, handler="rest", reason="422", metric_type="") == 2
    assert moved("poa_receiver_failed_messages_total", receiver="ethereum_statistics") == 0
    assert moved("poa_receiver_batch_seconds_count", receiver="ethereum_statistics") >= 1
    assert value(after, "poa_connections", kind="dashboard") == 1
    assert value(after, "poa_route", metric_type="system_metrics", receiver="system_statistics") == 1
    assert value(after, "poa_route", metric_type="ethereum_metrics", receiver="dashboard") == 1
    assert value(after, "poa_known_agents") == 1
    assert value(after, "poa_active_agents") == 1

    assert call(rest, "/bye", {"id": statistics["id"]}, token=token).status == 200
    assert wait_until(lambda: value(scrape(rest), "poa_active_agents") == 0, timeout=10)
    final = scrape(rest)
    inactive = value(final, "poa_agents_inactive_total", source="presence")
    assert inactive - value(before, "poa_agents_inactive_total", source="presence") == 1
    assert value(final, "poa_connections", kind="dashboard") == 0


def test_metrics_token_guards_the_endpoint(live_backend, live_db):
    backend = live_backend(env={"POA_METRICS_TOKEN": "scrape-secret"})
    base = backend.url("rest")
    assert request(base, "/metrics", method="GET").status == 401
    assert request(base, "/metrics", method="GET", headers={"Authorization": "Bearer nope"}).status == 401
    assert scrape(base, {"Authorization": "Bearer scrape-secret"})


def test_figures_of_several_processes_add_up_and_a_new_run_starts_from_zero(tmp_path):
    """Two processes writing to one metrics dir: one scrape shows the sum; the next run clears it."""
    env = {**os.environ, "POA_DATA_DIR": str(tmp_path)}
    worker = textwrap.dedent(
        """
        import django, sys
        django.setup()
        from poa_backend.core import metrics
        metrics.rejected("rest", "415")
        metrics.connection_opened("agent")
        sys.stdout.write("done")
        """
    )

    def run_worker():
        done = subprocess.run(
            [sys.executable, "-c", worker],
            env={**env, "DJANGO_SETTINGS_MODULE": "poa_backend.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout == "done", done.stderr

    run_worker()
    run_worker()
    reader = textwrap.dedent(
        """
        import django, sys
        django.setup()
        from poa_backend.core import metrics
        if sys.argv[1] == "start":
            metrics.clear_stale_files()
        sys.stdout.write(metrics.collect().decode())
        """
    )

    def read(mode):
        done = subprocess.run(
            [sys.executable, "-c", reader, mode],
            env={**env, "DJANGO_SETTINGS_MODULE": "poa_backend.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        families = text_string_to_metric_families(done.stdout)
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value for family in families for s in family.samples
        }

    summed = read("scrape")
    assert value(summed, "poa_messages_rejected_total", handler="rest", reason="415", metric_type="") == 2
    # Live gauges count only live processes: both writers have exited without marking themselves dead.
    assert value(summed, "poa_connections", kind="agent") == 2
    restarted = read("start")
    assert value(restarted, "poa_messages_rejected_total", handler="rest", reason="415", metric_type="") == 0
    assert metrics.metrics_dir().exists()
