"""JWT sessions: issue a token for an agent user, and the one check every handler uses.

A token is valid when it verifies (HS256, our issuer, every claim present), is
unexpired, is not banned (by ``jti``), and its user exists, is active and was
created before the token was issued (a deleted and re-created name does not revive
old tokens). Expiry is told apart (``TokenExpired``) so handlers can say so.

Checks run thousands of times a second, so a valid verdict is reused in-process for
``JWT_CHECK_CACHE_TTL`` seconds (never past the token's expiry). Any ban, deactivation
or deletion made in this process forgets every verdict at once, so it applies
immediately here; other processes notice it within that TTL. While the server runs,
``verdict_refresher`` re-checks the standing of every token used in the last half
minute, in bulk (two queries), every half TTL and keeps the valid verdicts: an agent
calling every few seconds never waits for the database, and a ban still applies
within the TTL.

While the database cannot be reached, a token that verifies (signature, issuer,
expiry) and was checked valid in this process within ``JWT_OUTAGE_GRACE`` seconds
keeps working, so agents ride out a database outage; a ban made meanwhile in
another process applies once the database answers again. A token with no such
verdict raises ``CheckUnavailable`` (a temporary error, never "invalid").
"""

import asyncio
import contextlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import jwt
from cachetools import TTLCache
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.db.models.signals import post_delete, post_save

from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "nbf", "jti", "iss"]
#: Longer strings are not our tokens; refusing them early bounds the work per check.
MAX_TOKEN_LENGTH = 4096
#: Names or ids per ``IN (...)`` of a bulk re-check (well within SQLite's parameter limit).
BULK_CHUNK = 500
#: Tokens checked within this many seconds have their verdicts kept fresh (agents call
#: every few seconds; a token idle longer is checked on its next call as a new one).
VERDICT_KEPT_IDLE = 30.0


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
    verdict = _verdicts.get(token)
    if verdict is not None:
        return verdict.user_name
    generation = _verdicts.generation
    claims = verified_claims(token)
    try:
        standing = _Standing([claims])
    except (OperationalError, InterfaceError) as exc:  # the database is away
        return _outage_answer(token, exc).user_name
    return _judge(token, claims, standing, generation).user_name


def _judge(token: str, claims: dict[str, Any], standing: "_Standing", generation: int) -> "Verdict":
    """The verdict of a token whose standing holds (and kept), else ``InvalidToken``."""
    refusal = standing.refusal(claims)
    if refusal is not None:
        raise InvalidToken(refusal)
    verdict = Verdict(claims["sub"], claims["exp"], claims["jti"], claims["iat"])
    _keep(token, verdict, generation, used=True)
    return verdict


def _keep(token: str, verdict: "Verdict", generation: int, used: bool = False) -> None:
    """Keep a valid verdict another TTL, and for the outage grace."""
    _verdicts.put(token, verdict, generation, used=used)
    _outage_verdicts.put(token, verdict, generation)


def _outage_answer(token: str, cause: Exception | None) -> "Verdict":
    """While the database is away: the verdict of the outage grace, else ``CheckUnavailable``."""
    verdict = _outage_verdicts.get(token)
    if verdict is None:
        raise CheckUnavailable("token standing unknown: the database is unreachable") from cause
    return verdict


async def acheck_token(token: str) -> str:
    """``check_token`` for async code."""
    return (await averdict(token)).user_name


async def averdict(token: str) -> "Verdict":
    """The verdict of a valid token (whom it stands for, until when), as ``check_token``
    judges it: a cached verdict at once, else the standing is read on a worker thread, in bulk
    with every other check waiting meanwhile (agents that connect together cost a query or
    two, not one each)."""
    verdict = _verdicts.get(token)
    if verdict is not None:
        return verdict
    claims = verified_claims(token)  # signature, issuer, expiry: no database
    return await _standing_checks.check(token, claims)


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


def refresh_verdicts() -> int:
    """Re-check, in bulk, the standing of the tokens checked in the last ``VERDICT_KEPT_IDLE``
    seconds: valid ones are kept another TTL (here and for the outage grace), the others
    forgotten. How many were kept."""
    generation = _verdicts.generation
    used = _verdicts.recently_used(VERDICT_KEPT_IDLE)
    if not used:
        return 0
    standing = _Standing([verdict.claims() for verdict in used.values()])
    kept = 0
    for token, verdict in used.items():
        if standing.refusal(verdict.claims()) is None:
            _keep(token, verdict, generation)
            kept += 1
        else:
            _verdicts.drop(token, generation)
    return kept


class _Standing:
    """The standing of the users and token ids of many tokens' claims, read in two queries
    (chunked)."""

    def __init__(self, claims: list[dict[str, Any]]) -> None:
        from handlers.models import AgentUser, BannedToken

        self.created: dict[str, Any] = {}
        self.banned: set[str] = set()
        names_list = sorted({each["sub"] for each in claims})
        jtis_list = sorted({each["jti"] for each in claims})
        for start in range(0, len(names_list), BULK_CHUNK):
            self.created.update(
                AgentUser.objects.filter(name__in=names_list[start : start + BULK_CHUNK], is_active=True)
                .values_list("name", "created_at")
                .order_by()
            )
        for start in range(0, len(jtis_list), BULK_CHUNK):
            self.banned.update(
                BannedToken.objects.filter(jti__in=jtis_list[start : start + BULK_CHUNK])
                .values_list("jti", flat=True)
                .order_by()
            )

    def refusal(self, claims: dict[str, Any]) -> str | None:
        """Why the token of these claims is refused, or None when it stands."""
        created_at = self.created.get(claims["sub"])
        if created_at is None:
            return "token refused: user unknown or inactive"
        if claims["jti"] in self.banned:
            return "token refused: banned"
        if claims["iat"] < int(created_at.timestamp()):
            return "token refused: issued before the user was created"
        return None


class _StandingChecks:
    """Async checks that missed the cache, answered together: one worker thread reads the
    standing of every token waiting, then of those that came meanwhile, and so on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[str, dict[str, Any], asyncio.Future[Verdict]]] = []
        self._working = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-checks")

    async def check(self, token: str, claims: dict[str, Any]) -> "Verdict":
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((token, claims, future))
            start, self._working = not self._working, True
        if start:
            self._worker.submit(self._work)
        return await future

    def _work(self) -> None:
        while True:
            with self._lock:
                waiting, self._waiting = self._waiting, []
                if not waiting:
                    self._working = False
            if not waiting:
                connections.close_all()  # misses come in bursts: hold no connection in between
                return
            try:
                results = self._check_all([(token, claims) for token, claims, _ in waiting])
            except Exception as exc:  # not a database outage: every caller hears it
                results = [exc] * len(waiting)
            for (_, _, future), result in zip(waiting, results, strict=True):
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    future.get_loop().call_soon_threadsafe(_settle, future, result)

    @staticmethod
    def _check_all(checks: list[tuple[str, dict[str, Any]]]) -> list["Verdict | Exception"]:
        close_old_connections()  # worker threads never see a request's end, so tidy up here
        generation = _verdicts.generation
        standing: _Standing | None = None
        outage: Exception | None = None
        try:
            standing = _Standing([claims for _, claims in checks])
        except (OperationalError, InterfaceError) as exc:  # the database is away
            outage = exc
        results: list[Verdict | Exception] = []
        for token, claims in checks:
            try:
                if standing is not None:
                    results.append(_judge(token, claims, standing, generation))
                else:
                    results.append(_outage_answer(token, outage))
            except (InvalidToken, CheckUnavailable) as refused:
                results.append(refused)
        return results


def _settle(future: "asyncio.Future[Verdict]", result: "Verdict | Exception") -> None:
    if future.done():  # its caller has gone
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


_standing_checks = _StandingChecks()


def _refresh_interval() -> float:
    return max(float(poa_settings.JWT_CHECK_CACHE_TTL) / 2, 0.05) if poa_settings.JWT_CHECK_CACHE_TTL else 1.0


def _refresh_step() -> None:
    close_old_connections()
    if poa_settings.JWT_CHECK_CACHE_TTL:
        refresh_verdicts()


#: Started with the server (handlers/apps.py); without it verdicts simply expire after the TTL.
verdict_refresher = Loop("poa-token-verdicts", _refresh_step, _refresh_interval)


class Verdict(NamedTuple):
    """What a valid token stands for, and what its standing is re-checked by."""

    user_name: str
    expires_at: float
    jti: str
    issued_at: int

    def claims(self) -> dict[str, Any]:
        return {"sub": self.user_name, "jti": self.jti, "iat": self.issued_at}


class _Verdicts:
    """Recently checked valid tokens, each kept for the seconds the setting ``ttl_setting``
    says; the least recently used go first once ``MAX_ENTRIES`` are kept."""

    MAX_ENTRIES = 50_000

    def __init__(self, ttl_setting: str) -> None:
        self.ttl_setting = ttl_setting
        self._entries: TTLCache[str, Verdict] | None = None
        self._lock = threading.Lock()
        #: Bumped by ``clear``; a check that started before a clear does not store its verdict.
        self.generation = 0
        #: Token -> when it was last checked (monotonic seconds).
        self._used: dict[str, float] = {}

    def _cache(self) -> TTLCache[str, Verdict] | None:
        """The cache for the configured TTL (made anew when the setting changes; None when 0)."""
        ttl = float(getattr(poa_settings, self.ttl_setting))
        if ttl <= 0:
            return None
        if self._entries is None or self._entries.ttl != ttl:
            self._entries = TTLCache(self.MAX_ENTRIES, ttl)
        return self._entries

    def get(self, token: str) -> Verdict | None:
        """The token's kept verdict, None when there is none; ``TokenExpired`` once it expired."""
        if not isinstance(token, str):
            return None
        with self._lock:
            cache = self._cache()
            verdict = cache.get(token) if cache is not None else None
            if verdict is not None:
                self._used[token] = time.monotonic()
        if verdict is None:
            return None
        if time.time() >= verdict.expires_at:
            raise TokenExpired("token expired")
        return verdict

    def put(self, token: str, verdict: Verdict, generation: int, used: bool = False) -> None:
        """Keep ``verdict`` another TTL, unless verdicts were cleared since ``generation`` or
        the token has expired (an expired token is told apart, not kept)."""
        with self._lock:
            cache = self._cache()
            if cache is not None and generation == self.generation and verdict.expires_at > time.time():
                cache[token] = verdict
                if used and len(self._used) < self.MAX_ENTRIES:
                    self._used[token] = time.monotonic()

    def drop(self, token: str, generation: int) -> None:
        with self._lock:
            if self._entries is not None and generation == self.generation:
                self._entries.pop(token, None)

    def recently_used(self, within: float) -> dict[str, Verdict]:
        """The verdicts of tokens checked in the last ``within`` seconds (others are let go)."""
        since = time.monotonic() - within
        with self._lock:
            cache = self._entries
            self._used = {
                token: at
                for token, at in self._used.items()
                if at >= since and cache is not None and token in cache
            }
            return {token: cache[token] for token in self._used} if cache is not None else {}

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._used = {}
            if self._entries is not None:
                self._entries.clear()


_verdicts = _Verdicts("JWT_CHECK_CACHE_TTL")
#: The same verdicts kept longer, read only while the database is away.
_outage_verdicts = _Verdicts("JWT_OUTAGE_GRACE")
