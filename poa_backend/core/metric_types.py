"""The configured metric types (``MetricType`` rows), read from memory on the hot path."""

from poa_backend.core.snapshot import Snapshot


def _load_metric_types() -> frozenset[str]:
    from poa_backend.core.models import MetricType

    return frozenset(MetricType.objects.values_list("name", flat=True))


metric_types: Snapshot[frozenset[str]] = Snapshot(_load_metric_types)


def is_metric_type(name: object) -> bool:
    """Whether ``name`` is a configured metric type (sync code)."""
    return isinstance(name, str) and name in metric_types.get()


async def ais_metric_type(name: object) -> bool:
    """Whether ``name`` is a configured metric type (async code)."""
    return isinstance(name, str) and name in await metric_types.aget()
