"""``/healthz``: each dependency of the process that answers, for load balancers and orchestrators.

The answer is ``ok`` (200) when everything answers; ``degraded`` (still 200) when the
database or Redis is away, because the backend keeps accepting meanwhile (durable
receivers spool, presence falls back to the process, tokens ride on their verdicts);
``unhealthy`` (503) when a durable receiver's spool in this process holds more than
``HEALTH_SPOOL_FILL`` of ``SPOOL_MAX_BYTES`` or its oldest undelivered message is older
than ``HEALTH_SPOOL_AGE`` seconds: it will soon refuse messages, or its sink has been
away too long, so traffic is better sent to another process.
"""

import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse

from poa_backend.core.conf import poa_settings
from receivers.dispatch import dispatcher

#: Seconds a health probe waits for Redis.
REDIS_TIMEOUT = 1.0
#: A sink whose receiver failed within this many seconds, with messages waiting, is "retrying".
RETRYING_WITHIN = 30.0


def database() -> dict[str, Any]:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "up"}
    except DatabaseError as exc:
        connections["default"].close()  # the next request gets a fresh connection
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}".strip()[:300]}


def redis() -> dict[str, Any] | None:
    if not settings.REDIS_URL:
        return None
    import redis as redis_client

    client = redis_client.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
        return {"status": "up"}
    except redis_client.RedisError as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        client.close()


def sinks() -> dict[str, dict[str, Any]]:
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


def healthz(request: HttpRequest) -> JsonResponse:
    dependencies: dict[str, Any] = {"database": database()}
    redis_state = redis()
    if redis_state is not None:
        dependencies["redis"] = redis_state
    receivers = sinks()
    if any(sink["status"] == "backlog" for sink in receivers.values()):
        status = "unhealthy"
    elif any(d["status"] == "down" for d in dependencies.values()) or any(
        sink["status"] != "up" for sink in receivers.values()
    ):
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status, "dependencies": dependencies, "receivers": receivers}
    return JsonResponse(body, status=503 if status == "unhealthy" else 200)
