"""Per-node figures for Prometheus, computed from the network view when ``/metrics`` is scraped.

Every series carries ``network`` and, per node, ``node`` (the agent id). Only nodes
the view holds appear, so the count of series is bounded by the network
receiver's ``max_nodes`` option (default 500): about 20 series per node.
Prometheus naming: base units (seconds), ``_total`` for counts, ``_ratio`` for 0..1.
"""

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from poa_backend.core import metrics
from receivers.network.view import RECENT_BLOCKS, Network

logger = logging.getLogger(__name__)

#: Bucket bounds (seconds) of the propagation histogram.
PROPAGATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)

NODE_GAUGES = (
    ("poa_node_up", "1 while the node reports and has not gone inactive.", lambda n: int(n.active)),
    ("poa_node_head_block", "Number of the node's latest block.", lambda n: n.head),
    ("poa_node_blocks_behind", "Blocks the node's head is behind the best block.", lambda n: n.blocks_behind),
    ("poa_node_peers", "Peers the node reported.", lambda n: n.peers),
    ("poa_node_pending_transactions", "Pending transactions the node reported.", lambda n: n.pending),
    (
        "poa_node_syncing",
        "1 while the node reports it is syncing.",
        lambda n: None if n.syncing is None else int(n.syncing),
    ),
    (
        "poa_node_latency_seconds",
        "Round trip between the node's agent and the backend.",
        lambda n: None if n.latency_ms is None else n.latency_ms / 1000,
    ),
    (
        "poa_node_last_block_age_seconds",
        "Time since the node reported its latest block.",
        lambda n: n.last_block_age,
    ),
    (
        "poa_node_uptime_ratio",
        "Share of the last 24 h the node was up (0 to 1).",
        lambda n: None if n.uptime is None else n.uptime / 100,
    ),
    (
        "poa_node_block_propagation_average_seconds",
        "The node's average delay after the first report of a block, over the last 40 blocks.",
        lambda n: None if n.propagation.average_ms is None else n.propagation.average_ms / 1000,
    ),
)


class NetworkCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        from receivers.network.receiver import running

        receiver = running()
        if receiver is None:
            return
        try:
            network = receiver.view()
        except Exception as exc:  # the scrape still shows everything else
            logger.warning("metrics: network view not read: %s", exc)
            return
        label = receiver.network
        for name, documentation, value_of in NODE_GAUGES:
            family = GaugeMetricFamily(name, documentation, labels=["network", "node"])
            for node in network.nodes:
                value = value_of(node)
                if value is not None:
                    family.add_metric([label, node.id], value)
            yield family
        yield self._propagation(label, network)
        best = GaugeMetricFamily(
            "poa_network_best_block", "Number of the best block any node reported.", labels=["network"]
        )
        if network.best is not None:
            best.add_metric([label], network.best.number)
        yield best
        for name, value, documentation in (
            ("poa_network_block_time_seconds", network.block_time, "Time between the last two blocks."),
            (
                "poa_network_block_time_average_seconds",
                network.average_block_time,
                "Average block time over the last 40 blocks.",
            ),
        ):
            family = GaugeMetricFamily(name, documentation, labels=["network"])
            if value is not None:
                family.add_metric([label], value)
            yield family
        nodes = GaugeMetricFamily(
            "poa_network_nodes", "Nodes in the network view, by state.", labels=["network", "state"]
        )
        nodes.add_metric([label, "up"], network.active_nodes)
        nodes.add_metric([label, "down"], len(network.nodes) - network.active_nodes)
        yield nodes

    def _propagation(self, label: str, network: Network) -> GaugeHistogramMetricFamily:
        family = GaugeHistogramMetricFamily(
            "poa_node_block_propagation_seconds",
            "Each node's delays after the first report of a block, over the last 40 blocks.",
            labels=["network", "node"],
        )
        recent = network.blocks[:RECENT_BLOCKS]
        for node in network.nodes:
            delays = [block.delays_ms[node.id] / 1000 for block in recent if node.id in block.delays_ms]
            if not delays:
                continue
            buckets = [(str(bound), sum(1 for d in delays if d <= bound)) for bound in PROPAGATION_BUCKETS]
            buckets.append(("+Inf", len(delays)))
            family.add_metric([label, node.id], buckets, gsum_value=sum(delays))
        return family


_collector = NetworkCollector()


def register() -> None:
    metrics.register_collector(_collector)
