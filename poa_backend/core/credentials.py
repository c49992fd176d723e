"""HTTP Basic credentials, parsed strictly and guessed at most so often.

Every endpoint that takes a password over HTTP Basic (agent users' ``/session``, the
staff endpoints of the auth listener, the history API) parses the header here, the one
strict way: base64 of the standard alphabet with valid padding and a ``:``. A header
that does not parse is a failed attempt like a wrong password, counted and never
checked (DRF's own parsing skips characters outside the alphabet, so such a header had
its password checked without counting against its name).

The throttle counts failed credential checks only, never successes: a client address
or a claimed user name is refused (429 with Retry-After) once it has
``AUTH_FAILURE_LIMIT`` failures in a window of ``AUTH_FAILURE_WINDOW`` seconds that
starts at its first failure. Counters live in Django's cache, so with ``REDIS_URL``
every process shares them. The client address is the socket's peer, unless DRF's
``NUM_PROXIES`` says how many proxies to trust in ``X-Forwarded-For``.

A full password hash is slow on purpose (tenths of a second). So that an operator
calling the API all day is not slowed, a success is remembered in-process for a few
minutes as a keyed digest of the credentials *and the stored hash*: a password change,
deactivation or deletion takes effect on the next request, since the row is read
every time.
"""

import base64
import binascii
import hashlib
import math
import threading
import time
from typing import Any

from cachetools import TTLCache
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils.crypto import salted_hmac
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BasicAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from poa_backend.core.conf import poa_settings

KEY_PREFIX = "auth-failures"


class MalformedCredentials(ValueError):
    """An ``Authorization: Basic`` header that is not base64 of ``name:password``."""


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(name, password)`` of an ``Authorization: Basic`` header; None for another scheme."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedCredentials() from None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    name, separator, password = text.partition(":")
    if not separator or not name.isprintable():  # a NUL no database column can hold, say
        raise MalformedCredentials()
    return name, password


def claimed_user_name(request: Request) -> str | None:
    """The user name an ``Authorization: Basic`` header claims, unverified (for throttling)."""
    try:
        credentials = basic_credentials(request.META.get("HTTP_AUTHORIZATION", ""))
    except MalformedCredentials:
        return None
    return credentials[0] if credentials else None


class StrictBasicAuthentication(BasicAuthentication):
    """DRF's Basic authentication with the strict parsing above: malformed is a failure."""

    www_authenticate_realm = "poa_backend"

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        header = get_authorization_header(request).decode("latin-1")
        try:
            credentials = basic_credentials(header)
        except MalformedCredentials:
            raise AuthenticationFailed("malformed Basic credentials") from None
        if credentials is None:
            return None
        return self.authenticate_credentials(*credentials, request)


class StrictBasicScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema describes ``StrictBasicAuthentication`` as plain HTTP Basic."""

    target_class = StrictBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}


class RecentlyVerified:
    """Keyed digests of credentials that passed a full hash check, each kept for ``ttl`` seconds
    (the least recently used go first once ``MAX_ENTRIES`` are kept)."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float = 300.0) -> None:
        self._digests: TTLCache[str, bool] = TTLCache(self.MAX_ENTRIES, ttl)
        self._lock = threading.Lock()

    @staticmethod
    def _digest(kind: str, pk: object, stored_hash: str, password: str) -> str:
        return salted_hmac(
            "poa.auth.verified-credentials", f"{kind}\0{pk}\0{stored_hash}\0{password}"
        ).hexdigest()

    def contains(self, kind: str, pk: object, stored_hash: str, password: str) -> bool:
        digest = self._digest(kind, pk, stored_hash, password)
        with self._lock:
            return self._digests.get(digest, False)

    def add(self, kind: str, pk: object, stored_hash: str, password: str) -> None:
        digest = self._digest(kind, pk, stored_hash, password)
        with self._lock:
            self._digests[digest] = True


recently_verified = RecentlyVerified()


class StaffBasicAuthentication(StrictBasicAuthentication):
    """An active Django staff user (through the configured auth backends); others get 401."""

    def authenticate_credentials(self, userid: str, password: str, request: object = None) -> tuple:
        model = get_user_model()
        user = model._default_manager.filter(**{model.USERNAME_FIELD: userid}).first()
        if (
            user is not None
            and user.is_active
            and user.is_staff
            and recently_verified.contains("staff", user.pk, user.password, password)
        ):
            return (user, None)
        user, _ = super().authenticate_credentials(userid, password, request)
        if not user.is_staff:
            raise AuthenticationFailed()
        recently_verified.add("staff", user.pk, user.password, password)
        return (user, None)


class FailedCredentialsThrottle(BaseThrottle):
    """``allow_request`` only reads the counters; the view calls ``record_failure`` on a 401."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def client_address(self, request: Request) -> str:
        if api_settings.NUM_PROXIES is not None:
            return self.get_ident(request)
        return request.META.get("REMOTE_ADDR", "")

    def claimed_name(self, request: Request) -> str | None:
        """The user name the request tries, unverified."""
        return claimed_user_name(request)

    def keys(self, request: Request, view: APIView) -> list[str]:
        keys = [f"{KEY_PREFIX}:address:{self.client_address(request)}"]
        name = self.claimed_name(request)
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


class FailedCredentialsThrottled:
    """A DRF view mix-in: the failure throttle runs before any credential is checked (DRF
    authenticates first and throttles after), and every refused credential is counted."""

    #: Which kind of principal calls the view; the throttle's user-name scope.
    principal = "staff"
    throttle_classes = [FailedCredentialsThrottle]

    def perform_authentication(self, request: Request) -> None:
        APIView.check_throttles(self, request)  # locked out: the credentials are not checked
        request.user  # noqa: B018 - authenticates now

    def check_throttles(self, request: Request) -> None:
        """Already done in ``perform_authentication``, before the credentials."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AuthenticationFailed):
            for throttle in self.get_throttles():
                if isinstance(throttle, FailedCredentialsThrottle):
                    throttle.record_failure(self.request, self)
        return super().handle_exception(exc)
