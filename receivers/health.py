"""What the durable receivers add to ``/healthz`` (``poa_backend.core.health``): their spools."""

import time
from typing import Any

from poa_backend.core.conf import poa_settings
from receivers.dispatch import dispatcher

#: A sink whose receiver failed within this many seconds, with messages waiting, is "retrying".
RETRYING_WITHIN = 30.0


def durable_sinks() -> dict[str, dict[str, Any]]:
    """Each running durable receiver: its spool in this process and whether it is over a threshold."""
    fill_limit = float(poa_settings.HEALTH_SPOOL_FILL) * int(poa_settings.SPOOL_MAX_BYTES)
    age_limit = float(poa_settings.HEALTH_SPOOL_AGE)
    found = {}
    for name, running in sorted(dict(dispatcher.running).items()):
        if not running.durable:
            continue
        figures = running.figures()
        failed_at = running.stats.last_error_at
        retrying = (
            bool(figures["depth"]) and failed_at is not None and time.time() - failed_at < RETRYING_WITHIN
        )
        over = figures["bytes"] > fill_limit or figures["oldest_seconds"] > age_limit
        found[name] = {
            "status": "backlog" if over else "retrying" if retrying else "up",
            **figures,
            **({"last_error": running.stats.last_error} if retrying or over else {}),
        }
    return found
