"""Per-node series read back through a real Prometheus (Debian's ``prometheus`` on a free port,
with its own data directory) scraping the backend's ``/metrics``."""

import json
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bench.backend import free_port, wait_for_port
from tests.live import wait_until
from tests.network_support import NETWORKING, agents, statistics_body

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
HEAD = 4242


class Prometheus:
    def __init__(self, target: str) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="poa-prometheus-"))
        config = self.directory / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            f"scrape_configs:\n  - job_name: poa\n    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = open(self.directory / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.process)

    def query(self, expression: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def backend(live_backend):
    return live_backend()


@pytest.fixture
def prometheus(backend):
    server = Prometheus(f"127.0.0.1:{backend.ports['rest']}")
    yield server
    server.stop()


def value(results, **labels):
    for result in results:
        if all(result["metric"].get(key) == wanted for key, wanted in labels.items()):
            return float(result["value"][1])
    return None


def test_prometheus_reads_per_node_series_from_metrics(backend, prometheus):
    by_id = agents(backend.url("rest"), "node-p1", "node-p2")
    for agent in by_id.values():
        agent.data("ethereum_metrics", "statistics", statistics_body(peers=9))
        agent.data(NETWORKING, "latency", {"latency": 40})
    by_id["node-p1"].block(HEAD)
    by_id["node-p2"].block(HEAD)
    by_id["node-p1"].block(HEAD + 1)

    assert wait_until(
        lambda: value(prometheus.query('poa_node_head_block{node="node-p1"}'), network="poa") == HEAD + 1,
        timeout=30,
    ), prometheus.query("up")
    assert value(prometheus.query("poa_node_blocks_behind"), node="node-p2") == 1
    assert value(prometheus.query("poa_node_peers"), node="node-p2") == 9
    assert value(prometheus.query("poa_node_latency_seconds"), node="node-p1") == 0.04
    assert value(prometheus.query("poa_node_up"), node="node-p1") == 1
    assert value(prometheus.query("poa_network_best_block"), network="poa") == HEAD + 1
    buckets = prometheus.query('poa_node_block_propagation_seconds_bucket{node="node-p2",le="+Inf"}')
    assert value(buckets, node="node-p2") == 1


def test_every_query_of_the_grafana_dashboard_answers_from_prometheus(backend, prometheus):
    """docs/grafana-network.json uses only series /metrics has: each of its queries returns data."""
    dashboard = json.loads(
        (Path(__file__).resolve().parent.parent / "docs" / "grafana-network.json").read_text()
    )
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    by_id = agents(backend.url("rest"), "node-g1", "node-g2")
    for agent in by_id.values():
        agent.data("ethereum_metrics", "statistics", statistics_body(peers=5))
        agent.data(NETWORKING, "latency", {"latency": 12})
        agent.block(HEAD, timestamp=1_700_000_000)
    by_id["node-g1"].block(HEAD + 1, timestamp=1_700_000_005)
    for expression in expressions:
        query = expression.replace("$network", ".*").replace("$node", ".*")
        assert wait_until(lambda query=query: prometheus.query(query), timeout=30), expression
