"""The one token check every handler uses: validity, expiry told apart, bans and user state."""

import asyncio
import threading
import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from handlers.auth import accounts
from handlers.auth.tokens import (
    InvalidToken,
    TokenExpired,
    acheck_token,
    bearer_token,
    check_token,
    issue_token,
    refresh_verdicts,
    verified_claims,
)
from handlers.models import AgentUser, BannedToken

# Committed rows: acheck_token reads them from a worker thread (its own connection).
pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def agent():
    accounts.create_agent_user("agent-7", "agent-password")
    return "agent-7"


def poa(settings, **values):
    settings.POA_BACKEND = {**django_settings.POA_BACKEND, **values}


def forge(**claims):
    now = int(time.time())
    base = {"sub": "agent-7", "iat": now, "nbf": now, "exp": now + 60, "jti": "j1", "iss": "poa_backend"}
    return jwt.encode({**base, **claims}, django_settings.POA_BACKEND["JWT_SECRET"], algorithm="HS256")


def test_a_fresh_token_is_valid_and_carries_every_claim(agent, settings):
    poa(settings, JWT_LIFETIME=120, JWT_ISSUER="test-issuer")
    token = issue_token(agent)
    assert check_token(token) == agent
    assert asyncio.run(acheck_token(token)) == agent
    claims = verified_claims(token)
    assert claims["sub"] == agent
    assert claims["iss"] == "test-issuer"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["nbf"] == claims["iat"]
    assert issue_token(agent) != token  # a new jti every time


def test_an_expired_token_is_told_apart_from_an_invalid_one(agent, settings):
    poa(settings, JWT_LIFETIME=0)
    expired = issue_token(agent)
    with pytest.raises(TokenExpired):
        check_token(expired)
    with pytest.raises(TokenExpired):
        asyncio.run(acheck_token(expired))
    tampered = expired[:-4] + ("AAAA" if not expired.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        check_token(tampered)


def test_a_cached_verdict_still_expires_on_time(agent, settings):
    poa(settings, JWT_CHECK_CACHE_TTL=60)
    token = forge(exp=int(time.time()) + 1)
    assert check_token(token) == agent
    time.sleep(1.1)
    with pytest.raises(TokenExpired):
        check_token(token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not.a.jwt",
        "x" * 5000,
        jwt.encode({"sub": "agent-7", "exp": 4_000_000_000}, "another-secret-long-enough-for-hs256-use"),
    ],
)
def test_malformed_or_foreign_tokens_are_invalid(agent, token):
    with pytest.raises(InvalidToken):
        check_token(token)


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "nbf", "jti", "iss"])
def test_every_claim_is_required(agent, missing):
    now = int(time.time())
    claims = {"sub": "agent-7", "iat": now, "nbf": now, "exp": now + 60, "jti": "j", "iss": "poa_backend"}
    del claims[missing]
    token = jwt.encode(claims, django_settings.POA_BACKEND["JWT_SECRET"], algorithm="HS256")
    with pytest.raises(InvalidToken):
        check_token(token)


def test_wrong_issuer_and_other_algorithms_are_invalid(agent):
    with pytest.raises(InvalidToken):
        check_token(forge(iss="someone-else"))
    unsigned = jwt.encode({"sub": "agent-7", "exp": 4_000_000_000}, None, algorithm="none")
    with pytest.raises(InvalidToken):
        check_token(unsigned)


def test_ban_deactivation_and_deletion_apply_at_once_despite_the_cache(agent, settings):
    poa(settings, JWT_CHECK_CACHE_TTL=60)
    banned, deactivated = issue_token(agent), issue_token(agent)
    assert check_token(banned) == agent  # now cached
    assert accounts.ban_token(banned)
    with pytest.raises(InvalidToken):
        check_token(banned)
    assert BannedToken.objects.get().user_name == agent

    assert check_token(deactivated) == agent
    assert accounts.ban_user(agent)
    with pytest.raises(InvalidToken):
        check_token(deactivated)
    accounts.set_active([agent], True)
    assert check_token(deactivated) == agent

    user = AgentUser.objects.get(name=agent)
    user.is_active = False
    user.save()  # as the admin's change form does
    with pytest.raises(InvalidToken):
        asyncio.run(acheck_token(deactivated))

    accounts.set_active([agent], True)
    assert check_token(deactivated) == agent
    assert accounts.delete_agent_user(agent)
    with pytest.raises(InvalidToken):
        check_token(deactivated)


def test_a_recreated_user_name_does_not_revive_old_tokens(agent):
    AgentUser.objects.filter(name=agent).update(created_at=timezone.now() - timedelta(minutes=1))
    old = forge(iat=int(time.time()) - 10, nbf=int(time.time()) - 10)
    assert check_token(old) == agent
    accounts.delete_agent_user(agent)
    accounts.create_agent_user(agent, "new-password")
    with pytest.raises(InvalidToken):
        check_token(old)
    assert check_token(issue_token(agent)) == agent


def test_changes_from_other_processes_are_seen_within_the_cache_ttl(agent, settings):
    poa(settings, JWT_CHECK_CACHE_TTL=0.3)
    token = issue_token(agent)
    assert check_token(token) == agent
    AgentUser.objects.filter(name=agent).update(is_active=False)  # no signal: like another process
    time.sleep(0.4)
    with pytest.raises(InvalidToken):
        check_token(token)


def test_verdicts_in_use_are_kept_fresh_in_bulk_and_checks_never_query(agent, settings):
    poa(settings, JWT_CHECK_CACHE_TTL=2.0)
    token = issue_token(agent)
    assert check_token(token) == agent
    time.sleep(1.2)
    assert refresh_verdicts() == 1  # kept another TTL from now
    time.sleep(1.2)  # past the first verdict's TTL, well within the refreshed one
    with CaptureQueriesContext(connection) as queries:
        assert check_token(token) == agent
    assert len(queries) == 0


def test_bulk_rechecks_apply_changes_from_other_processes(agent, settings):
    poa(settings, JWT_CHECK_CACHE_TTL=60)
    accounts.create_agent_user("agent-8", "agent-password")
    kept, banned, deactivated = issue_token(agent), issue_token(agent), issue_token("agent-8")
    for token in (kept, banned, deactivated):
        check_token(token)
    # No signals, as another process's changes arrive
    BannedToken.objects.bulk_create(
        [BannedToken(jti=verified_claims(banned)["jti"], user_name=agent, expires_at=timezone.now())]
    )
    AgentUser.objects.filter(name="agent-8").update(is_active=False)
    assert check_token(banned) == agent  # still the cached verdict, within the TTL
    assert refresh_verdicts() == 1
    assert check_token(kept) == agent
    with pytest.raises(InvalidToken):
        check_token(banned)
    with pytest.raises(InvalidToken):
        check_token(deactivated)


def test_async_checks_that_arrive_together_share_their_queries(agent, settings, monkeypatch):
    from handlers.auth import tokens

    poa(settings, JWT_CHECK_CACHE_TTL=60)
    names = [f"burst-{n}" for n in range(40)]
    for name in names:
        accounts.create_agent_user(name, "agent-password")
    valid = [issue_token(name) for name in names]
    banned = issue_token(names[0])
    accounts.ban_token(banned)
    unknown = issue_token("nobody")
    reads = []
    all_queued = threading.Event()

    class CountedStanding(tokens._Standing):
        def __init__(self, claims):
            reads.append(len(claims))
            all_queued.wait(10)  # the first read lasts until every check has been asked for
            super().__init__(claims)

    monkeypatch.setattr(tokens, "_Standing", CountedStanding)

    async def check_all():
        checks = [asyncio.ensure_future(acheck_token(token)) for token in [*valid, banned, unknown]]
        await asyncio.sleep(0)  # each runs up to its wait for the worker
        all_queued.set()
        return await asyncio.gather(*checks, return_exceptions=True)

    results = asyncio.run(check_all())
    assert results[:-2] == names
    assert [type(result) for result in results[-2:]] == [InvalidToken, InvalidToken]
    assert sum(reads) == len(valid) + 2
    assert len(reads) <= 2  # the first alone, the rest that waited meanwhile together


def test_banning_needs_a_currently_valid_token(agent, settings):
    assert not accounts.ban_token("garbage")
    poa(settings, JWT_LIFETIME=0)
    assert not accounts.ban_token(issue_token(agent))
    assert not BannedToken.objects.exists()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   abc.def.ghi  ", "abc.def.ghi"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token
