"""The backend's settings: one namespaced dict (``POA_BACKEND``), defaults in one place.

Read them through ``poa_settings.NAME``; values given as strings (from the
environment) are coerced to the type of their default.
"""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Seconds without a ping before an agent is declared inactive.
    "INACTIVITY_TIMEOUT": 7.0,
    # Largest request body a handler accepts, in bytes.
    "MAX_BODY_SIZE": 1024 * 1024,
    # Deepest nesting of objects and arrays accepted in an agent's data.
    "MAX_NESTING": 32,
    # JWT sessions.
    "JWT_SECRET": "",
    "JWT_LIFETIME": 3600,
    "JWT_ISSUER": "poa_backend",
    # Seconds a checked token's verdict is reused in-process (other processes see a ban this late).
    "JWT_CHECK_CACHE_TTL": 1.0,
    # Failed credential checks allowed per client address and per user name in a window of seconds.
    "AUTH_FAILURE_LIMIT": 10,
    "AUTH_FAILURE_WINDOW": 60,
    # Seconds between purges of expired banned tokens while the server runs.
    "BANNED_TOKEN_PURGE_INTERVAL": 3600.0,
    # Serve the auth endpoints over plain HTTP (only behind a TLS-terminating proxy).
    "ALLOW_PLAIN_HTTP_AUTH": False,
    # Overrides the dashboard receiver's stored secret when set.
    "DASHBOARD_SECRET": "",
    # Prefix of every key and channel this backend uses in Redis.
    "REDIS_PREFIX": "poa",
    # How often plug-in rows and metric types are re-read (admin edits apply this fast).
    "CONFIG_REFRESH_INTERVAL": 1.0,
    # Threads serving HTTP requests in each process (each keeps one database connection).
    "REQUEST_THREADS": 8,
    # Default bound and batch size of each receiver's queue (a receiver's options may override).
    "RECEIVER_QUEUE_SIZE": 100_000,
    "RECEIVER_BATCH_SIZE": 500,
    # Seconds receivers get to drain their queues on shutdown.
    "RECEIVER_DRAIN_TIMEOUT": 5.0,
    # When set, /metrics wants "Authorization: Bearer <token>".
    "METRICS_TOKEN": "",
    # Seconds between samples of per-process gauges (receiver queue depths).
    "METRICS_SAMPLE_INTERVAL": 2.0,
    # An agent with no message for this many seconds is shown inactive (history API, /metrics).
    "AGENT_STALE_AFTER": 15.0,
}


class PoaSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown POA_BACKEND setting {name!r}")
        default = DEFAULTS[name]
        value = getattr(settings, "POA_BACKEND", {}).get(name, default)
        if isinstance(value, str) and not isinstance(default, str):
            value = coerce(value, type(default))
        return value


def coerce(value: str, kind: type) -> Any:
    if kind is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return kind(value)


poa_settings = PoaSettings()
