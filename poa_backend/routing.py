"""Routing by path to whatever the enabled plug-ins serve.

A plain-HTTP listener a plug-in named serves the routes of the plug-ins on that
listener, of the plug-ins that named none, and the site's (admin, API, metrics): the
REST listener answers 404 for the dashboard page, as the deployed agents expect. An
HTTPS listener, and a port no plug-in named (``daphne poa_backend.asgi:application``
on one port behind a proxy), serve every route. HTTP goes through Django (a middleware swaps in a
URLconf made of the plug-ins' patterns plus the site's); WebSocket connections
go through Channels' ``URLRouter`` over the plug-ins' socket patterns.
"""

import logging
from collections.abc import Callable
from typing import Any

from channels.routing import URLRouter
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, re_path

from poa_backend.core.plugins import Plugin, aactive_plugins, active_plugins

logger = logging.getLogger(__name__)

class PluginURLConf:
    """A URLconf object: the plug-ins' patterns first, then the site's."""

    def __init__(self, plugins: list[Plugin]) -> None:
        from poa_backend import urls as site

        self.urlpatterns: list[URLPattern | URLResolver] = [
            pattern for plugin in plugins for pattern in plugin.http_urls()
        ] + list(site.urlpatterns)
        self.handler404 = site.handler404
        self.handler500 = site.handler500


def plugins_on_port(plugins: list[Plugin], port: int | None) -> list[Plugin]:
    """The plug-ins a connection to ``port`` reaches: every one on an HTTPS listener (where staff
    follow the plain listeners' redirects, to the web dashboard say) and on a port no plug-in
    named; else those that named the port or none."""
    listening = [plugin.listener for plugin in plugins]
    on_port = [listener for listener in listening if listener is not None and listener.port == port]
    if port is None or not on_port or any(listener.scheme == "https" for listener in on_port):
        return plugins
    return [
        plugin
        for plugin, listener in zip(plugins, listening, strict=True)
        if listener is None or listener.port == port
    ]


def local_port(scope: dict[str, Any]) -> int | None:
    server = scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


class _PerPluginSet:
    """Values built for one set of running plug-ins and one port, rebuilt when the set changes."""

    def __init__(self, build: Callable[[list[Plugin]], Any]) -> None:
        self._build = build
        self._key: tuple[int, ...] = ()
        self._by_port: dict[int | None, Any] = {}

    def get(self, plugins: list[Plugin], port: int | None) -> Any:
        key = tuple(id(plugin) for plugin in plugins)
        if key != self._key:
            self._key, self._by_port = key, {}
        value = self._by_port.get(port)
        if value is None:
            value = self._by_port[port] = self._build(plugins_on_port(plugins, port))
        return value


_urlconfs = _PerPluginSet(PluginURLConf)


def current_urlconf(port: int | None = None) -> PluginURLConf:
    """The URLconf for a request to ``port`` (None: every plug-in's routes)."""
    return _urlconfs.get(active_plugins(), port)


async def acurrent_urlconf(port: int | None = None) -> PluginURLConf:
    """``current_urlconf`` from async code, from memory (a stale set is re-read beside)."""
    return _urlconfs.get(await aactive_plugins(), port)


class PluginRoutesMiddleware:
    """Resolves each request against the enabled plug-ins' routes as well as the site's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        port = request.META.get("SERVER_PORT")
        request.urlconf = current_urlconf(int(port) if port and port.isdigit() else None)
        return self.get_response(request)


async def refuse_socket(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
    """No socket at this path: refuse the handshake (the server answers 403)."""
    await receive()
    await send({"type": "websocket.close"})


class PluginWebSocketRouter:
    """ASGI app for WebSocket scopes: Channels' ``URLRouter`` over the socket routes of the
    plug-ins on the connection's port, rebuilt when the running plug-ins change."""

    def __init__(self) -> None:
        self._routers = _PerPluginSet(
            lambda plugins: URLRouter(
                [pattern for plugin in plugins for pattern in plugin.websocket_urls()]
                + [re_path(r"", refuse_socket)]
            )
        )

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        plugins = await aactive_plugins()  # from memory: no thread hop per connection
        return await self._routers.get(plugins, local_port(scope))(scope, receive, send)
