"""Who may report: the ``hello`` check, per-node credentials first, then shared secrets.

A node logs in as the active agent user named by its ``id`` with that user's password
as ``secret``; only when no user has that name, as the user named ``info.name`` (Besu
sends its enode key as ``id``, Nethermind ``name-0x...``). A shared secret (the row's
``secrets`` option and ``POA_ETHSTATS_SECRETS``) admits any id, except a name whose
agent user is deactivated or banned.

Password hashes are slow on purpose, so checks run on worker threads, a few at a time
(a reconnect storm must not take every thread), and a secret that matched a user's
current hash is remembered (``poa_backend.core.credentials.recently_verified``): a node
reconnecting with it costs one query, not a hash.
Failures are counted per address and per node id with the ``/session`` throttle's
counters and budget (``AUTH_FAILURE_LIMIT`` in ``AUTH_FAILURE_WINDOW``), which still
lets a node that mistyped its secret retry every 10 s as go-ethereum does.
"""

import asyncio
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from handlers.ethstats import limits
from poa_backend.core.conf import poa_settings
from poa_backend.core.credentials import KEY_PREFIX, FailedCredentialsThrottle, recently_verified
from poa_backend.core.intake import Refusal, check_agent_id, check_json_value

# Why a hello is refused (logged and counted; the client only sees the close).
BROKEN_HELLO = "broken_hello"
THROTTLED = "throttled"
NODE_BANNED = "node_banned"
USER_INACTIVE = "user_inactive"
BAD_SECRET = "bad_secret"

#: Password checks running at once in a process (half the cores: the event loop keeps the rest);
#: the others wait their turn, in order.
CONCURRENT_CHECKS = max(1, (os.cpu_count() or 2) // 2)
#: ``recently_verified``'s kind for agent users' secrets checked here.
CREDENTIAL_KIND = "ethstats"


class LoginRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Hello:
    node_id: str
    secret: str
    info: dict[str, Any]

    @property
    def info_name(self) -> str | None:
        name = self.info.get("name")
        return name if isinstance(name, str) and name else None


@dataclass(frozen=True, slots=True)
class Login:
    """An accepted hello: the node, and the agent user it logged in as (empty: a shared secret)."""

    hello: Hello
    user_name: str = ""
    user_created_at: datetime | None = None


def parse_hello(payload: object) -> Hello:
    """The hello's id, secret and info, or ``LoginRefused(BROKEN_HELLO)``."""
    if not isinstance(payload, dict):
        raise LoginRefused(BROKEN_HELLO)
    secret, info = payload.get("secret"), payload.get("info")
    if not isinstance(secret, str) or not isinstance(info, dict):
        raise LoginRefused(BROKEN_HELLO)
    try:
        node_id = check_agent_id(payload.get("id"))
        check_json_value(info)
    except Refusal as exc:
        raise LoginRefused(BROKEN_HELLO) from exc
    return Hello(node_id, secret, info)


def shared_secrets(option: list[str]) -> list[str]:
    """The row's secrets and ``POA_ETHSTATS_SECRETS`` split on ``|`` (as eth-netstats' WS_SECRET)."""
    from_env = [part for part in str(poa_settings.ETHSTATS_SECRETS).split("|") if part]
    return [*option, *from_env]


def _is_shared(secret: str, secrets: list[str]) -> bool:
    given = secret.encode("utf-8", "surrogatepass")
    return any(hmac.compare_digest(given, known.encode("utf-8", "surrogatepass")) for known in secrets)


class _FailureThrottle(FailedCredentialsThrottle):
    """The ``/session`` throttle's counters, keyed by a socket's address and the claimed node id."""

    def __init__(self, address: str, node_id: str | None = None) -> None:
        super().__init__()
        self._keys = [f"{KEY_PREFIX}:address:{address}"]
        if node_id is not None:
            digest = hashlib.sha256(node_id.encode("utf-8", "surrogatepass")).hexdigest()
            self._keys.append(f"{KEY_PREFIX}:ethstats-node:{digest}")

    def keys(self, request: Any = None, view: Any = None) -> list[str]:
        return self._keys


def resolve_user(hello: Hello) -> Any:
    """The agent user the hello names: by ``id``, else by ``info.name``; None when neither exists."""
    from handlers.models import AgentUser

    users = {user.name: user for user in AgentUser.objects.filter(name__in=[hello.node_id, hello.info_name])}
    return users.get(hello.node_id) or users.get(hello.info_name or "")


def _password_matches(user: Any, secret: str) -> bool:
    if recently_verified.contains(CREDENTIAL_KIND, user.pk, user.password, secret):
        return True
    if user.check_password(secret):  # may re-hash: remember the hash it ends with
        recently_verified.add(CREDENTIAL_KIND, user.pk, user.password, secret)
        return True
    return False


def check_login(hello: Hello, address: str, secrets: list[str]) -> Login:
    """Accept or refuse ``hello`` (sync: database, cache and a password hash)."""
    close_old_connections()  # worker threads never see a request's end, so tidy up here
    throttle = _FailureThrottle(address, hello.node_id)
    if not throttle.allow_request(None, None):
        raise LoginRefused(THROTTLED)
    if limits.is_banned(hello.node_id):
        raise LoginRefused(NODE_BANNED)
    try:
        user = resolve_user(hello)
        if user is not None and not user.is_active:
            raise LoginRefused(USER_INACTIVE)
        if user is not None and _password_matches(user, hello.secret):
            return _accepted(Login(hello, user.name, user.created_at))
        if _is_shared(hello.secret, secrets):
            return _accepted(Login(hello, user.name if user else "", user.created_at if user else None))
        raise LoginRefused(BAD_SECRET)
    except LoginRefused:
        throttle.record_failure(None, None)
        raise


def _accepted(login: Login) -> Login:
    """Note the node's transport and client for the admin."""
    from handlers.models import NodeTransport

    client = login.hello.info.get("node")
    NodeTransport.record(
        login.hello.node_id,
        NodeTransport.ETHSTATS,
        client if isinstance(client, str) else "",
        login.user_name,
    )
    return login


def record_failure(address: str) -> None:
    """Count a refused hello that never reached ``check_login`` (a broken one) against its address."""
    close_old_connections()
    _FailureThrottle(address).record_failure(None, None)


def still_admitted(login: Login) -> bool:
    """Whether the session may go on: its user still exists unchanged and active, and no user
    of its names has been deactivated or banned since (sync: one query)."""
    close_old_connections()
    user = resolve_user(login.hello)
    if login.user_name:
        return (
            user is not None
            and user.name == login.user_name
            and user.is_active
            and user.created_at == login.user_created_at
        )
    return user is None or user.is_active


_gates: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(CONCURRENT_CHECKS)
    return gate


async def alogin(hello: Hello, address: str, secrets: list[str]) -> Login:
    """``check_login`` off the event loop, at most ``CONCURRENT_CHECKS`` at a time."""
    async with _gate():
        return await sync_to_async(check_login, thread_sensitive=False)(hello, address, secrets)


async def astill_admitted(login: Login) -> bool:
    return await sync_to_async(still_admitted, thread_sensitive=False)(login)


async def arecord_failure(address: str) -> None:
    await sync_to_async(record_failure, thread_sensitive=False)(address)
