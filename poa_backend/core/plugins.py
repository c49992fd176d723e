"""What custom handlers and receivers have in common: classes named in database rows.

A row names a class by dotted path and gives it options. The class checks its
options before anything starts (``clean_options``), so a bad value is an admin
form error naming the field, never a crash at start. Either kind of plug-in may
open a listener (``port`` in its options) and serve routes on it.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import URLPattern
from django.utils.module_loading import import_string

from poa_backend.core.snapshot import Snapshot

logger = logging.getLogger(__name__)

LISTENER_OPTIONS = {"scheme", "host", "port", "certfile", "keyfile"}

#: Connections the kernel queues before the server accepts them. Twisted's default (50)
#: overflows when hundreds of agents connect at once (after a restart, say): the dropped
#: SYNs are retried a second later, which the agents see as one-second stalls.
LISTEN_BACKLOG = 1024


@dataclass(frozen=True, slots=True)
class Listener:
    scheme: str
    host: str
    port: int
    certfile: str = ""
    keyfile: str = ""

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{self.scheme}://{host}:{self.port}"


class Plugin:
    """Built from a row: ``name`` and cleaned ``options``. Every hook does nothing by default."""

    #: What the admin calls this kind of plug-in in its errors.
    kind = "plug-in"

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        self.name = name
        self.options = self.clean_options(dict(options or {}))

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Check and complete the row's options; raise ValidationError saying which is wrong."""
        return clean_listener_options(options)

    @property
    def listener(self) -> Listener | None:
        """The listener this plug-in asks the server to open, if its options name a port."""
        return listener_from_options(self.options)

    def http_urls(self) -> list[URLPattern]:
        """Django URL patterns served while the row is enabled."""
        return []

    def websocket_urls(self) -> list[URLPattern]:
        """``path(route, asgi_app)`` patterns for WebSocket connections while the row is enabled."""
        return []


def listener_from_options(options: object) -> Listener | None:
    """The listener a row's options describe (``port`` and friends), or None."""
    if not isinstance(options, dict) or "port" not in options:
        return None
    return Listener(
        scheme=options.get("scheme", "http"),
        host=options.get("host", "0.0.0.0"),
        port=options["port"],
        certfile=options.get("certfile", ""),
        keyfile=options.get("keyfile", ""),
    )


def clean_listener_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validate the listener keys a plug-in's options may hold; others pass untouched."""
    if not isinstance(options, dict):
        raise ValidationError("options must be a JSON object")
    if "port" in options:
        port = options["port"]
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValidationError("port: must be an integer from 1 to 65535")
    scheme = options.get("scheme", "http")
    if scheme not in ("http", "https"):
        raise ValidationError('scheme: must be "http" or "https"')
    for key in ("host", "certfile", "keyfile", "path"):
        if key in options and not isinstance(options[key], str):
            raise ValidationError(f"{key}: must be a string")
    if bool(options.get("certfile")) != bool(options.get("keyfile")):
        raise ValidationError("certfile and keyfile: give both or neither")
    return options


def load_plugin_class(path: str, base: type[Plugin]) -> type[Plugin]:
    """Import the class a row names and check it is the right kind of plug-in."""
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ValidationError(f"{path!r} does not import: {exc}") from exc
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise ValidationError(
            f"{path!r} is not a {base.kind} (a subclass of {base.__module__}.{base.__qualname__})"
        )
    return cls


# Where the plug-ins come from. Each app that keeps plug-in rows registers, in its
# ``AppConfig.ready()``, the row model (what is configured) and a source of the
# instances it is running now; the core and the project only ever ask these.

PluginSource = Callable[[], Iterable[Plugin]] | Snapshot[list[Plugin]]
_sources: list[PluginSource] = []
_row_models: list[Any] = []


def register_plugins(row_model: Any, running: PluginSource) -> None:
    """An app's plug-in rows (a ``PluginRow`` model) and the instances it runs from them: a
    ``Snapshot`` of them, or a function that answers from memory (async code calls it too)."""
    if row_model not in _row_models:
        _row_models.append(row_model)
    if running not in _sources:
        _sources.append(running)


def plugin_row_models() -> list[Any]:
    """Every registered ``PluginRow`` model (custom handlers, receivers, ...)."""
    return list(_row_models)


def active_plugins() -> list[Plugin]:
    """Every plug-in this process runs now, from every app (sync: may read the database)."""
    return [
        plugin
        for source in _sources
        for plugin in (source.get() if isinstance(source, Snapshot) else source())
    ]


async def aactive_plugins() -> list[Plugin]:
    """``active_plugins`` from async code, from memory (a stale snapshot is re-read beside)."""
    return [
        plugin
        for source in _sources
        for plugin in (await source.aget() if isinstance(source, Snapshot) else source())
    ]


def listeners() -> list[Listener]:
    """The listeners of the plug-ins this process runs."""
    return [plugin.listener for plugin in active_plugins() if plugin.listener is not None]


def https_listener(all_listeners: list[Listener]) -> Listener | None:
    """The HTTPS listener staff are sent to from plain ones (the auth handler's, 4003 by default)."""
    secure = sorted((item for item in all_listeners if item.scheme == "https"), key=lambda item: item.port)
    return secure[0] if secure else None


def configured_plugins() -> list[Plugin]:
    """Instances of every enabled row of every registered model (built, not started)."""
    plugins = []
    for model in _row_models:
        for row in model.objects.filter(enabled=True):
            try:
                plugins.append(row.build())
            except Exception as exc:  # a broken row is logged by whoever runs it, never fatal here
                logger.error("%s %s not built: %s", model._meta.verbose_name, row.name, exc)
    return plugins
