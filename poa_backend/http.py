"""Django's ASGI handler, with each request's synchronous work done in one go on a fixed pool.

Django's own ASGI handler enters a fresh single-thread executor per request
(``ThreadSensitiveContext``) and hops threads for the request signals, each sync
middleware, the view and closing the response. Under agent load those thread
starts and hand-offs cost more than the work itself, and a database connection
opened in a per-request thread is never reused (nor closed, with persistent
connections). Here the started signal, the middleware, the view and the closing
of the response run in one call on one of a bounded set of long-lived threads,
which keep their database connections; the event loop only reads the body and
writes the answer.

There are two such pools, so that work anyone can cause cannot starve the agents:
calls bearing a token (``Authorization: Bearer``: the agents' ``/ping``, ``/data``,
``/bye``, checked with one HMAC) run on ``REQUEST_THREADS``; every other request
(HTTP Basic passwords, each a deliberately slow hash, staff sessions, anonymous
callers) on ``OTHER_REQUEST_THREADS``. Forty parallel bad passwords then wait for
each other, not in front of a valid ``/data``.

A call bearing a token whose view is async (the agents' calls: they await what may
block, and read the rest from memory) runs on the event loop itself, with no thread
at all, through the lean ``AGENT_CALL_MIDDLEWARE`` instead of ``MIDDLEWARE``: agent
calls use no session, CSRF check, staff login or messages, and the hooks kept (the
security and framing headers, ``Content-Length``) do no I/O, so they are called in
place rather than through Django's async adapter, which would hop to a thread for each.
"""

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import response_for_exception
from django.core.signals import request_started
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver, set_script_prefix
from django.utils.module_loading import import_string

from poa_backend.core.conf import poa_settings
from poa_backend.routing import acurrent_urlconf, local_port


def bears_token(scope: dict[str, Any]) -> bool:
    """Whether the request carries ``Authorization: Bearer`` (an agent's call)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return value[:7].lower() == b"bearer "
    return False


class InlineHooks:
    """The request and response hooks of hooks-style middleware (``MiddlewareMixin``), called
    in place, in ``MIDDLEWARE`` order, as Django's sync chain calls them."""

    def __init__(self, paths: list[str]) -> None:
        self.middleware = [import_string(path)(_never_called) for path in paths]

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        for middleware in self.middleware:
            if hasattr(middleware, "process_request"):
                response = middleware.process_request(request)
                if response is not None:
                    return response
        return None

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        for middleware in reversed(self.middleware):
            if hasattr(middleware, "process_response"):
                response = middleware.process_response(request, response)
        return response


def _never_called(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("inline hooks call the view themselves")


@functools.lru_cache(maxsize=256)
def async_view_at(urlconf: Any, path: str) -> ResolverMatch | None:
    """The match for ``path`` when its view is async, else None. Agent calls come to a few
    paths, each resolved once per set of routes (a ``urlconf`` is rebuilt when the running
    plug-ins change) rather than walked through every plug-in's patterns per call."""
    try:
        match = get_resolver(urlconf).resolve(path)
    except Resolver404:
        return None
    return match if iscoroutinefunction(match.func) else None


class PooledASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.agent_call_hooks = InlineHooks(settings.AGENT_CALL_MIDDLEWARE)
        self.agent_executor = ThreadPoolExecutor(
            max_workers=poa_settings.REQUEST_THREADS, thread_name_prefix="http-agent"
        )
        self.other_executor = ThreadPoolExecutor(
            max_workers=poa_settings.OTHER_REQUEST_THREADS, thread_name_prefix="http-other"
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except base.RequestAborted:
            return
        if bears_token(scope):
            try:
                if await self.respond_inline(scope, body_file, send):
                    return
            except BaseException:
                body_file.close()
                raise
            executor = self.agent_executor
        else:
            executor = self.other_executor
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(executor, self.respond, scope, body_file)
            await self.send_response(response, send)
        finally:
            body_file.close()
        if response.streaming:  # its content was only read while sending
            await loop.run_in_executor(executor, response.close)

    async def respond_inline(self, scope: dict[str, Any], body_file: Any, send: Any) -> bool:
        """Serve a request whose view is async on the event loop; False (nothing sent) for any other."""
        set_script_prefix(get_script_prefix(scope))
        request, response = self.create_request(scope, body_file)
        if request is not None:
            request.urlconf = await acurrent_urlconf(local_port(scope))
            match = async_view_at(request.urlconf, request.path_info)
            if match is None:
                return False
            request.resolver_match = match
            try:
                response = self.agent_call_hooks.process_request(request)
                if response is None:
                    response = await match.func(request, *match.args, **match.kwargs)
                    if callable(getattr(response, "render", None)):  # DRF's Response, as Django does
                        response = response.render()
                response = self.agent_call_hooks.process_response(request, response)
            except Exception as exc:  # what Django's chain does with an exception from a view
                response = response_for_exception(request, exc)
        try:
            await self.send_response(response, send)
        finally:
            body_file.close()
            if response.streaming:
                response.close()
        # Neither request_started nor request_finished is sent: they tidy the database
        # connections of a request's thread, and this request had no thread.
        return True

    def respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """The synchronous part of a request, all on this pool thread."""
        set_script_prefix(get_script_prefix(scope))
        request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # sends request_finished here, where this thread's connections live
        return response


def get_pooled_asgi_application() -> PooledASGIHandler:
    """Like ``django.core.asgi.get_asgi_application``, with the pooled handler."""
    import django

    django.setup(set_prefix=False)
    return PooledASGIHandler()
