"""The backend's settings: one namespaced dict (``POA_BACKEND``), defaults in one place.

Read them through ``poa_settings.NAME``; values given as strings (from the
environment) are coerced to the type of their default.
"""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

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
    # Threads serving HTTP requests in each process (each keeps one database connection):
    # REQUEST_THREADS for calls bearing an agent's token to synchronous views (the agents'
    # own calls are async views, served on the event loop), OTHER_REQUEST_THREADS for the
    # rest (passwords, staff sessions, anonymous), so password hashing cannot starve agents.
    "REQUEST_THREADS": 8,
    "OTHER_REQUEST_THREADS": 4,
    # Open connections one client address may hold (0: no cap), and new connections the
    # server accepts per second (more wait in the listen backlog; 0: no cap).
    "MAX_CONNECTIONS_PER_ADDRESS": 256,
    "MAX_NEW_CONNECTIONS_PER_SECOND": 1000,
    # WebSocket frames received and not yet taken by the application, per connection: reading
    # pauses at this many and the connection is closed (1008) at four times as many.
    "WEBSOCKET_INPUT_QUEUE": 1000,
    # A WebSocket whose write buffer stays full this many seconds, or takes this many bytes
    # more while full, is closed (a dashboard that does not read).
    "WEBSOCKET_DRAIN_TIMEOUT": 10.0,
    "WEBSOCKET_MAX_BUFFERED": 16 * 1024 * 1024,
    # Seconds between the server's WebSocket pings, and for the pong before the socket is closed.
    "WEBSOCKET_PING_INTERVAL": 20.0,
    "WEBSOCKET_PING_TIMEOUT": 30.0,
    # Largest WebSocket message the server reads from any client; a larger one closes the
    # socket (1009). Raise it for ethstats nodes that send whole blocks (Besu: full transactions).
    "WEBSOCKET_MAX_MESSAGE_SIZE": 1024 * 1024,
    # Seconds to wait for a database connection (PostgreSQL connect_timeout).
    "DATABASE_CONNECT_TIMEOUT": 5,
    # Default bound and batch size of each receiver's queue (a receiver's options may override).
    "RECEIVER_QUEUE_SIZE": 100_000,
    "RECEIVER_BATCH_SIZE": 500,
    # Seconds receivers get to drain their queues on shutdown.
    "RECEIVER_DRAIN_TIMEOUT": 5.0,
    # Durable receivers (docs/receivers.md): where each process keeps its spools (empty: the data
    # directory's "spool"), the most bytes of undelivered messages one receiver's spool holds in
    # one process (beyond it new messages are refused), and whether each append is fsynced
    # (survives a machine crash, not only a process's death, at the cost of a disk flush per call).
    "SPOOL_DIR": "",
    "SPOOL_MAX_BYTES": 256 * 1024 * 1024,
    "SPOOL_FSYNC": False,
    # The spool slot this process prefers (runbackend --workers sets it per worker; 0: the first free).
    "WORKER_SLOT": 0,
    # Seconds before a durable receiver's first retry of a failing sink, and the cap of the doubling.
    "RECEIVER_RETRY_INITIAL_DELAY": 0.1,
    "RECEIVER_RETRY_MAX_DELAY": 10.0,
    # /healthz turns unhealthy when a spool holds this fraction of SPOOL_MAX_BYTES, or its oldest
    # undelivered message is this many seconds old.
    "HEALTH_SPOOL_FILL": 0.5,
    "HEALTH_SPOOL_AGE": 300.0,
    # Seconds a token checked valid keeps working from its signature and that verdict while the
    # database cannot be reached (a ban made meanwhile applies when the database is back).
    "JWT_OUTAGE_GRACE": 600.0,
    # When set, /metrics wants "Authorization: Bearer <token>".
    "METRICS_TOKEN": "",
    # Seconds between samples of per-process gauges (receiver queue depths).
    "METRICS_SAMPLE_INTERVAL": 2.0,
    # An agent with no message for this many seconds is shown inactive (history API, /metrics).
    "AGENT_STALE_AFTER": 15.0,
    # Alerts (docs/alerts.md): destinations seeded at install when set; how often rules are
    # evaluated and deliveries tried (seconds); how often firing alerts are re-sent to Alertmanager.
    "ALERTMANAGER_URL": "",
    "ALERT_WEBHOOK_URL": "",
    "ALERT_EVALUATION_INTERVAL": 1.0,
    "ALERT_DELIVERY_INTERVAL": 1.0,
    "ALERTMANAGER_RESEND_INTERVAL": 60.0,
    # ethstats handler: shared secrets ("|" between them, like eth-netstats' WS_SECRET), admitting
    # any node id, on top of the row's ``secrets`` option and per-node agent users.
    "ETHSTATS_SECRETS": "",
    # ethstats handler: seconds a connected node may stay silent before it is shown inactive.
    "ETHSTATS_INACTIVITY_TIMEOUT": 45.0,
}


def parse_bool(value: str) -> bool:
    """The one reading of a boolean given as text (environment variables): 1, true, yes, on."""
    return value.strip().lower() in {"1", "true", "yes", "on"}


class PoaSettings:
    """``poa_settings.NAME``: the project's value, else the default, converted once to the
    default's type and cached; Django's ``setting_changed`` (tests' overrides) clears the cache."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown POA_BACKEND setting {name!r}")
        default = DEFAULTS[name]
        value = getattr(settings, "POA_BACKEND", {}).get(name, default)
        if isinstance(value, str) and not isinstance(default, str):
            value = coerce(value, type(default))
        setattr(self, name, value)  # later reads skip __getattr__
        return value

    def reload(self) -> None:
        """Forget the converted values (the settings changed)."""
        self.__dict__.clear()


def coerce(value: str, kind: type) -> Any:
    if kind is bool:
        return parse_bool(value)
    return kind(value)


poa_settings = PoaSettings()


def _reload_on_change(setting: str, **kwargs: object) -> None:
    if setting == "POA_BACKEND":
        poa_settings.reload()


setting_changed.connect(_reload_on_change, dispatch_uid="poa_backend.core.conf")
