"""JWT sessions: issue a token for an agent user, and the one check every handler uses.

A token is valid when it verifies (HS256, our issuer, every claim present), is
unexpired, is not banned (by ``jti``), and its user exists, is active and was
created before the token was issued (a deleted and re-created name does not revive
old tokens). Expiry is told apart (``TokenExpired``) so handlers can say so.

Checks run thousands of times a second, so a valid verdict is reused in-process for
``JWT_CHECK_CACHE_TTL`` seconds (never past the token's expiry). Any ban, deactivation
or deletion made in this process forgets every verdict at once, so it applies
immediately here; other processes notice it within that TTL.

While the database cannot be reached, a token that verifies (signature, issuer,
expiry) and was checked valid in this process within ``JWT_OUTAGE_GRACE`` seconds
keeps working, so agents ride out a database outage; a ban made meanwhile in
another process applies once the database answers again. A token with no such
verdict raises ``CheckUnavailable`` (a temporary error, never "invalid").
"""

import threading
import time
import uuid
from typing import Any

import jwt
from asgiref.sync import sync_to_async
from cachetools import TTLCache
from django.db import InterfaceError, OperationalError, close_old_connections
from django.db.models import Exists
from django.db.models.signals import post_delete, post_save

from poa_backend.core.conf import poa_settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "nbf", "jti", "iss"]
#: Longer strings are not our tokens; refusing them early bounds the work per check.
MAX_TOKEN_LENGTH = 4096


class TokenError(Exception):
    """The token is not valid; the message says why (for logs; never shown with the token)."""


class TokenExpired(TokenError):
    """The token verified but its ``exp`` is past."""


class InvalidToken(TokenError):
    """Malformed, bad signature, wrong issuer, banned, or its user is missing or inactive."""


class CheckUnavailable(Exception):
    """The token verifies but its standing cannot be read (the database is away) and it has no
    verdict within ``JWT_OUTAGE_GRACE``: answer a temporary error (REST 503), not "invalid"."""


def issue_token(user_name: str) -> str:
    """A signed session token for the agent user, valid for ``JWT_LIFETIME`` seconds."""
    now = int(time.time())
    claims = {
        "sub": user_name,
        "iat": now,
        "nbf": now,
        "exp": now + int(poa_settings.JWT_LIFETIME),
        "jti": uuid.uuid4().hex,
        "iss": poa_settings.JWT_ISSUER,
    }
    return jwt.encode(claims, poa_settings.JWT_SECRET, algorithm=ALGORITHM)


def verified_claims(token: object) -> dict[str, Any]:
    """The claims of a token that verifies and is unexpired (no database look-up)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("not a token")
    try:
        claims = jwt.decode(
            token,
            poa_settings.JWT_SECRET,
            algorithms=[ALGORITHM],
            issuer=poa_settings.JWT_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token refused: {type(exc).__name__}") from exc
    if not isinstance(claims["sub"], str) or not claims["sub"] or not isinstance(claims["jti"], str):
        raise InvalidToken("token refused: bad subject or id")
    return claims


def check_token(token: str) -> str:
    """The agent user name a token stands for; raises ``TokenExpired`` or ``InvalidToken``."""
    user_name = _verdicts.get(token)
    if user_name is not None:
        return user_name
    generation = _verdicts.generation
    claims = verified_claims(token)
    try:
        _check_standing(claims)
    except (OperationalError, InterfaceError) as exc:  # the database is away
        user_name = _outage_verdicts.get(token)
        if user_name is None:
            raise CheckUnavailable("token standing unknown: the database is unreachable") from exc
        return user_name
    _verdicts.put(token, claims["sub"], claims["exp"], generation)
    _outage_verdicts.put(token, claims["sub"], claims["exp"], generation)
    return claims["sub"]


async def acheck_token(token: str) -> str:
    """``check_token`` for async code: a cached verdict at once, else the database on a worker thread."""
    user_name = _verdicts.get(token)
    if user_name is not None:
        return user_name
    return await sync_to_async(_check_token_in_worker, thread_sensitive=False)(token)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <jwt>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def forget_verdicts() -> None:
    """Drop every cached verdict: call after any ban, deactivation or deletion."""
    _verdicts.clear()
    _outage_verdicts.clear()


def _forget_on_change(**kwargs: Any) -> None:
    """Edits anywhere in this process (admin forms included) apply to the next check."""
    forget_verdicts()


def connect_invalidation() -> None:
    """Forget verdicts whenever agent users or bans change (``HandlersConfig.ready``)."""
    post_save.connect(_forget_on_change, sender="handlers.AgentUser", dispatch_uid="auth-forget-on-user-save")
    post_delete.connect(
        _forget_on_change, sender="handlers.AgentUser", dispatch_uid="auth-forget-on-user-delete"
    )
    post_save.connect(_forget_on_change, sender="handlers.BannedToken", dispatch_uid="auth-forget-on-ban")


def _check_token_in_worker(token: str) -> str:
    close_old_connections()  # worker threads never see a request's end, so tidy up here
    return check_token(token)


def _check_standing(claims: dict[str, Any]) -> None:
    from handlers.models import AgentUser, BannedToken

    # One query: the user's standing and whether this token is banned.
    row = (
        AgentUser.objects.filter(name=claims["sub"], is_active=True)
        .annotate(banned=Exists(BannedToken.objects.filter(jti=claims["jti"])))
        .values_list("created_at", "banned")
        .order_by()
        .first()
    )
    if row is None:
        raise InvalidToken("token refused: user unknown or inactive")
    created_at, banned = row
    if banned:
        raise InvalidToken("token refused: banned")
    if claims["iat"] < int(created_at.timestamp()):
        raise InvalidToken("token refused: issued before the user was created")


class _Verdicts:
    """Recently checked valid tokens: token -> (user name, exp), each kept for the seconds the
    setting ``ttl_setting`` says; the least recently used go first once ``MAX_ENTRIES`` are kept."""

    MAX_ENTRIES = 50_000

    def __init__(self, ttl_setting: str) -> None:
        self.ttl_setting = ttl_setting
        self._entries: TTLCache[str, tuple[str, float]] | None = None
        self._lock = threading.Lock()
        #: Bumped by ``clear``; a check that started before a clear does not store its verdict.
        self.generation = 0

    def _cache(self) -> TTLCache[str, tuple[str, float]] | None:
        """The cache for the configured TTL (made anew when the setting changes; None when 0)."""
        ttl = float(getattr(poa_settings, self.ttl_setting))
        if ttl <= 0:
            return None
        if self._entries is None or self._entries.ttl != ttl:
            self._entries = TTLCache(self.MAX_ENTRIES, ttl)
        return self._entries

    def get(self, token: str) -> str | None:
        if not isinstance(token, str):
            return None
        with self._lock:
            cache = self._cache()
            entry = cache.get(token) if cache is not None else None
        if entry is None:
            return None
        user_name, expires_at = entry
        if time.time() >= expires_at:
            raise TokenExpired("token expired")
        return user_name

    def put(self, token: str, user_name: str, expires_at: float, generation: int) -> None:
        with self._lock:
            cache = self._cache()
            if cache is not None and generation == self.generation:
                cache[token] = (user_name, expires_at)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            if self._entries is not None:
                self._entries.clear()


_verdicts = _Verdicts("JWT_CHECK_CACHE_TTL")
#: The same verdicts kept longer, read only while the database is away.
_outage_verdicts = _Verdicts("JWT_OUTAGE_GRACE")
