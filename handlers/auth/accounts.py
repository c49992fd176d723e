"""What operators do to agent users and tokens, shared by the REST views, the admin and the commands.

Every change that can make a token invalid forgets the cached token verdicts, so it
applies at once in this process (bulk updates send no model signals, so this is explicit).
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from handlers.auth.tokens import TokenError, check_token, forget_verdicts, verified_claims
from handlers.models import AgentUser, BannedToken

#: Lengths of generated credentials, as the protocol gives them (URL-safe characters).
GENERATED_NAME_LENGTH = 8
GENERATED_PASSWORD_LENGTH = 15
MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 150


class NameTaken(Exception):
    """An agent user of that name exists already."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user_name: str
    password: str


def generate_secret(length: int) -> str:
    """``length`` URL-safe random characters."""
    return secrets.token_urlsafe(length)[:length]


def create_agent_user(user_name: str | None = None, password: str | None = None) -> Credentials:
    """Create an active agent user; a missing name or password is generated. Raises NameTaken."""
    if user_name and AgentUser.objects.filter(name=user_name).exists():
        raise NameTaken(user_name)  # before the (slow) hashing; the insert below still decides
    password = password or generate_secret(GENERATED_PASSWORD_LENGTH)
    user = AgentUser(name=user_name or "")
    user.set_password(password)
    for _attempt in range(5):
        if not user_name:
            user.name = generate_secret(GENERATED_NAME_LENGTH)
        try:
            with transaction.atomic():
                user.save(force_insert=True)
        except IntegrityError:
            if user_name:
                raise NameTaken(user_name) from None
            user.pk = None
            continue
        return Credentials(user.name, password)
    raise NameTaken(user.name)


def set_active(user_names: list[str], active: bool) -> int:
    """(De)activate these agent users; returns how many exist. Deactivation stops their tokens."""
    count = AgentUser.objects.filter(name__in=user_names).update(is_active=active)
    forget_verdicts()
    return count


def delete_agent_user(user_name: str) -> bool:
    """Delete the agent user (its tokens stop working); False when there is none."""
    deleted, _ = AgentUser.objects.filter(name=user_name).delete()
    forget_verdicts()
    return deleted > 0


def ban_token(token: str) -> bool:
    """Refuse a currently valid token from now on; False when it is not currently valid."""
    try:
        check_token(token)
        claims = verified_claims(token)
    except TokenError:
        return False
    BannedToken.objects.get_or_create(
        jti=claims["jti"],
        defaults={
            "user_name": claims["sub"],
            "expires_at": datetime.fromtimestamp(claims["exp"], tz=UTC),
        },
    )
    forget_verdicts()
    return True


def ban_user(user_name: str) -> bool:
    """Deactivate the agent user, so all its tokens stop working; False when there is none."""
    return set_active([user_name], False) > 0


def purge_expired_bans() -> int:
    """Delete banned tokens that have expired anyway; returns how many."""
    deleted, _ = BannedToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
