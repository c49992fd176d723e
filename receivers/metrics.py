"""What only the receivers app can tell /metrics: routing topology, queue depths, active agents."""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from poa_backend.core import metrics
from receivers.dispatch import dispatcher

logger = logging.getLogger(__name__)


class TopologyCollector(Collector):
    """``poa_route{metric_type, receiver} 1`` for each subscription routed right now."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "poa_route",
            "Routing: 1 for each receiver a metric type is delivered to in this process.",
            labels=["metric_type", "receiver"],
        )
        for metric_type, receivers in dispatcher.topology().items():
            for receiver in receivers:
                family.add_metric([metric_type, receiver], 1)
        yield family


class ReceiverFiguresCollector(Collector):
    """``poa_receiver_figure{receiver, figure}``: what each running receiver of this process counts."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "poa_receiver_figure",
            "A running receiver's own figures in this process (rows stored, retries, ...).",
            labels=["receiver", "figure"],
        )
        for name, running in sorted(dict(dispatcher.running).items()):
            try:
                figures = running.instance.figures()
            except Exception:  # a third party's figures never break the scrape
                logger.exception("metrics: figures of receiver %s not read", name)
                continue
            for figure, value in figures.items():
                family.add_metric([name, figure], value)
        yield family


class ActiveAgentsCollector(Collector):
    """``poa_active_agents`` and ``poa_known_agents``, from the database (the same for every process)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from receivers.known_agents import known_agents

        try:
            agents = list(known_agents().values_list("is_active", flat=True))
        except DatabaseError as exc:  # the scrape still shows everything else
            logger.warning("metrics: known agents not read: %s", exc)
            return
        yield GaugeMetricFamily("poa_known_agents", "Agents the backend has heard from.", len(agents))
        yield GaugeMetricFamily(
            "poa_active_agents", "Agents active now.", sum(1 for active in agents if active)
        )


_sampled: set[str] = set()


def sample_queue_depths() -> None:
    """This process's queue depth per running receiver; a stopped receiver's goes to 0."""
    running = dict(dispatcher.running)
    for name in _sampled - running.keys():
        metrics.RECEIVER_QUEUE_DEPTH.labels(receiver=name).set(0)
    for name, receiver in running.items():
        metrics.RECEIVER_QUEUE_DEPTH.labels(receiver=name).set(receiver.queue.qsize())
    _sampled.clear()
    _sampled.update(running)


def register() -> None:
    metrics.register_collector(TopologyCollector())
    metrics.register_collector(ReceiverFiguresCollector())
    metrics.register_collector(ActiveAgentsCollector())
    metrics.register_sampler(sample_queue_depths)
