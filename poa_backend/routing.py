"""Routing by path to whatever the enabled plug-ins serve.

Every listener serves every route, so ``daphne poa_backend.asgi:application``
on one port behind a proxy serves everything too. HTTP goes through Django
(a middleware swaps in a URLconf made of the plug-ins' patterns plus the site's);
WebSocket connections are matched here against the plug-ins' socket patterns.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.urls.exceptions import Resolver404

from poa_backend.plugins import Plugin

logger = logging.getLogger(__name__)

PluginSource = Callable[[], Iterable[Plugin]]
_sources: list[PluginSource] = []


def register_plugin_source(source: PluginSource) -> None:
    """Apps register where their running plug-ins come from (called in ``AppConfig.ready``)."""
    if source not in _sources:
        _sources.append(source)


def active_plugins() -> list[Plugin]:
    """Every running plug-in, from every registered source (sync: sources may read the database)."""
    return [plugin for source in _sources for plugin in source()]


class PluginURLConf:
    """A URLconf object: the plug-ins' patterns first, then the site's."""

    def __init__(self, plugins: list[Plugin]) -> None:
        from poa_backend import urls as site

        self.urlpatterns: list[URLPattern | URLResolver] = [
            pattern for plugin in plugins for pattern in plugin.http_urls()
        ] + list(site.urlpatterns)
        self.handler404 = site.handler404
        self.handler500 = site.handler500


_urlconf_cache: dict[tuple[int, ...], PluginURLConf] = {}


def current_urlconf() -> PluginURLConf:
    plugins = active_plugins()
    key = tuple(id(plugin) for plugin in plugins)
    urlconf = _urlconf_cache.get(key)
    if urlconf is None:
        _urlconf_cache.clear()  # plug-ins changed: the old URLconf is not coming back
        urlconf = _urlconf_cache[key] = PluginURLConf(plugins)
    return urlconf


class PluginRoutesMiddleware:
    """Resolves each request against the enabled plug-ins' routes as well as the site's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.urlconf = current_urlconf()
        return self.get_response(request)


class PluginWebSocketRouter:
    """ASGI app for WebSocket scopes: the first plug-in pattern matching the path takes it."""

    def __init__(self) -> None:
        self._patterns_for: tuple[tuple[int, ...], list[URLPattern]] = ((), [])

    def _patterns(self, plugins: list[Plugin]) -> list[URLPattern]:
        key = tuple(id(plugin) for plugin in plugins)
        if self._patterns_for[0] != key:
            self._patterns_for = (key, [p for plugin in plugins for p in plugin.websocket_urls()])
        return self._patterns_for[1]

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        plugins = await sync_to_async(active_plugins, thread_sensitive=False)()
        path = scope["path"].lstrip("/")
        for pattern in self._patterns(plugins):
            try:
                match = pattern.resolve(path)
            except Resolver404:
                continue
            if match:
                scope = dict(scope, url_route={"args": match.args, "kwargs": match.kwargs})
                return await match.func(scope, receive, send)
        # No socket here: refuse the handshake (the server answers 403).
        await receive()
        await send({"type": "websocket.close"})
