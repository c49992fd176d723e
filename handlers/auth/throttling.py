"""Brute-force protection that counts failed credential checks only, never successes.

DRF's rate throttles count every request; here a client address or a claimed user
name is refused (429 with Retry-After) once it has ``AUTH_FAILURE_LIMIT`` failures in a
window of ``AUTH_FAILURE_WINDOW`` seconds that starts at its first failure. Counters live
in Django's cache, so with ``REDIS_URL`` every process shares them.

The client address is the socket's peer, unless DRF's ``NUM_PROXIES`` says how many
proxies to trust in ``X-Forwarded-For`` (a client must not choose its own address).
"""

import hashlib
import math
import time

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from handlers.auth.authentication import claimed_user_name
from poa_backend.core.conf import poa_settings

KEY_PREFIX = "auth-failures"


class FailedCredentialsThrottle(BaseThrottle):
    """``allow_request`` only reads the counters; the view calls ``record_failure`` on a 401."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def client_address(self, request: Request) -> str:
        if api_settings.NUM_PROXIES is not None:
            return self.get_ident(request)
        return request.META.get("REMOTE_ADDR", "")

    def keys(self, request: Request, view: APIView) -> list[str]:
        keys = [f"{KEY_PREFIX}:address:{self.client_address(request)}"]
        name = claimed_user_name(request)
        if name is not None:
            digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
            keys.append(f"{KEY_PREFIX}:{getattr(view, 'principal', 'user')}:{digest}")
        return keys

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit = int(poa_settings.AUTH_FAILURE_LIMIT)
        window = float(poa_settings.AUTH_FAILURE_WINDOW)
        keys = self.keys(request, view)
        stored = cache.get_many([f"{key}:{part}" for key in keys for part in ("count", "since")])
        waits = []
        for key in keys:
            if stored.get(f"{key}:count", 0) >= limit:
                since = stored.get(f"{key}:since", time.time())
                waits.append(since + window - time.time())
        if not waits:
            return True
        self._wait = max(1.0, max(waits))
        return False

    def record_failure(self, request: Request, view: APIView) -> None:
        window = float(poa_settings.AUTH_FAILURE_WINDOW)
        for key in self.keys(request, view):
            # The window starts at the first failure; later ones only count.
            cache.add(f"{key}:since", time.time(), timeout=math.ceil(window))
            cache.add(f"{key}:count", 0, timeout=math.ceil(window))
            try:
                cache.incr(f"{key}:count")
            except ValueError:  # expired between the two calls: this failure starts a new window
                cache.set(f"{key}:count", 1, timeout=math.ceil(window))

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
