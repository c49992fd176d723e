"""HTTP Basic for the two kinds of principal: agent users (``/session``) and admins (Django staff).

A full password hash check is slow on purpose (tenths of a second). So that an admin
provisioning hundreds of agents, or agents renewing tokens all day, are not slowed,
a success is remembered in-process for a few minutes as a keyed digest of the
credentials *and the stored hash*: a password change, deactivation or deletion takes
effect on the next request, since the row is read every time.
"""

import base64
import binascii
import threading

from cachetools import TTLCache
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils.crypto import salted_hmac
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from handlers.models import AgentUser

REALM = "poa_backend"


def claimed_user_name(request: Request) -> str | None:
    """The user name an ``Authorization: Basic`` header claims, unverified (for throttling)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    name, separator, _ = text.partition(":")
    return name if separator else None


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


class AgentUserAuthentication(BasicAuthentication):
    """An active agent user's name and password; ``request.user`` becomes the AgentUser."""

    www_authenticate_realm = REALM

    def authenticate_credentials(
        self, userid: str, password: str, request: object = None
    ) -> tuple[AgentUser, None]:
        user = AgentUser.objects.filter(name=userid).first()
        if user is None or not user.is_active:
            make_password(password)  # as slow as a real check: timing does not tell which names exist
            raise AuthenticationFailed()
        if recently_verified.contains("agent", user.pk, user.password, password):
            return (user, None)
        if not user.check_password(password):
            raise AuthenticationFailed()
        recently_verified.add("agent", user.pk, user.password, password)
        return (user, None)


class StaffAuthentication(BasicAuthentication):
    """An active Django staff user (through the configured auth backends); others get 401."""

    www_authenticate_realm = REALM

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
