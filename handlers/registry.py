"""The handler instances of the enabled rows, rebuilt when the rows change."""

import logging

from poa_backend.core import handler as base
from poa_backend.core.snapshot import Snapshot

logger = logging.getLogger(__name__)

_instances: dict[str, tuple[tuple, base.HandlerPlugin]] = {}


def _load() -> list[base.HandlerPlugin]:
    from handlers.models import CustomHandler

    running: dict[str, tuple[tuple, base.HandlerPlugin]] = {}
    for row in CustomHandler.objects.filter(enabled=True):
        kept = _instances.get(row.name)
        if kept and kept[0] == row.signature:
            running[row.name] = kept
            continue
        try:
            running[row.name] = (row.signature, row.build())
        except Exception as exc:  # a broken row is logged, never fatal
            logger.error("custom handler %s not started: %s", row.name, exc)
    _instances.clear()
    _instances.update(running)
    return [handler for _, handler in running.values()]


enabled_handlers: Snapshot[list[base.HandlerPlugin]] = Snapshot(_load)
