"""``/healthz``: each dependency of the process that answers, for load balancers and orchestrators.

The answer is ``ok`` (200) when everything answers; ``degraded`` (still 200) when the
database or Redis is away, because the backend keeps accepting meanwhile (durable
receivers spool, presence falls back to the process, tokens ride on their verdicts);
``unhealthy`` (503) when a durable receiver's spool in this process holds more than
``HEALTH_SPOOL_FILL`` of ``SPOOL_MAX_BYTES`` or its oldest undelivered message is older
than ``HEALTH_SPOOL_AGE`` seconds: it will soon refuse messages, or its sink has been
away too long, so traffic is better sent to another process.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse

#: Seconds a health probe waits for Redis.
REDIS_TIMEOUT = 1.0


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


#: What apps add to the answer: each a callable returning ``{name: {"status": ..., ...}}`` for
#: the sinks it runs ("up", "retrying", "backlog"); registered in ``AppConfig.ready()``.
_sink_sources: list[Callable[[], dict[str, dict[str, Any]]]] = []


def register_sinks(source: Callable[[], dict[str, dict[str, Any]]]) -> None:
    """Add an app's sinks to ``/healthz`` (the receivers app: its durable receivers' spools)."""
    if source not in _sink_sources:
        _sink_sources.append(source)


def sinks() -> dict[str, dict[str, Any]]:
    return {name: state for source in _sink_sources for name, state in source().items()}


def healthz(request: HttpRequest) -> JsonResponse:
    dependencies: dict[str, Any] = {"database": database()}
    redis_state = redis()
    if redis_state is not None:
        dependencies["redis"] = redis_state
    states = sinks()
    if any(sink["status"] == "backlog" for sink in states.values()):
        status = "unhealthy"
    elif any(d["status"] == "down" for d in dependencies.values()) or any(
        sink["status"] != "up" for sink in states.values()
    ):
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status, "dependencies": dependencies, "sinks": states}
    return JsonResponse(body, status=503 if status == "unhealthy" else 200)
