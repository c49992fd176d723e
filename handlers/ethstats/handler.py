"""The ethstats custom handler: every Ethereum client's built-in reporter connects to it directly.

go-ethereum and Erigon (``--ethstats``), Nethermind (``EthStats.*``), Besu (``--ethstats``),
reth (``--debug.ethstats``) and eth-net-intelligence-api speak eth-netstats' protocol
over a WebSocket at ``/api``; their reports become the POA Messages a POA agent would
send, for the same receivers. See docs/ethstats.md.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.urls import URLPattern, path

from poa_backend.core.conf import poa_settings
from poa_backend.core.handler import HandlerPlugin

#: Option -> default. ``inactivity_timeout`` None means ``POA_ETHSTATS_INACTIVITY_TIMEOUT``.
DEFAULTS: dict[str, Any] = {
    "path": "/api",
    "secrets": [],
    "inactivity_timeout": None,
    # Seconds between re-checks of a session's agent user (a ban or deactivation ends it).
    "recheck_interval": 30,
    # Seconds a new connection has to send its hello.
    "hello_timeout": 30,
    # Largest frame, in bytes (Besu's blocks carry full transactions; its history is large).
    "max_frame_size": 16 * 1024 * 1024,
    # A node's frames: this many a second on average, this many at once; then a ban.
    "max_frames_per_second": 20,
    "max_frame_burst": 200,
    "ban_seconds": 60,
}
_POSITIVE_NUMBERS = (
    "recheck_interval",
    "hello_timeout",
    "max_frames_per_second",
    "max_frame_burst",
    "ban_seconds",
)


def _positive(options: dict[str, Any], key: str) -> None:
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(f"{key}: must be a number above 0")


class EthstatsHandler(HandlerPlugin):
    """Serves the ethstats socket at ``options["path"]`` and ``path + "/"`` (any query string).

    Options: the listener keys (the seeded row: ``http`` on port 3000, eth-netstats'
    port) and the keys of ``DEFAULTS`` above.
    """

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        for key, default in DEFAULTS.items():
            options.setdefault(key, list(default) if isinstance(default, list) else default)
        if not isinstance(options["path"], str) or not options["path"].startswith("/"):
            raise ValidationError('path: must start with "/"')
        secrets = options["secrets"]
        if not isinstance(secrets, list) or not all(isinstance(item, str) and item for item in secrets):
            raise ValidationError("secrets: must be a list of non-empty strings")
        if options["inactivity_timeout"] is not None:
            _positive(options, "inactivity_timeout")
        for key in _POSITIVE_NUMBERS:
            _positive(options, key)
        size = options["max_frame_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1024:
            raise ValidationError("max_frame_size: must be an integer of at least 1024 bytes")
        return options

    @property
    def inactivity_timeout(self) -> float:
        timeout = self.options["inactivity_timeout"]
        return float(poa_settings.ETHSTATS_INACTIVITY_TIMEOUT if timeout is None else timeout)

    def websocket_urls(self) -> list[URLPattern]:
        from handlers.ethstats.consumer import EthstatsConsumer

        route = self.options["path"].strip("/")
        app = EthstatsConsumer.as_asgi(handler=self)
        return [
            path(route, app, name=f"{self.name}-socket"),
            path(f"{route}/", app, name=f"{self.name}-socket-slash"),
        ]
