"""Agent credentials made directly in the backend's own database (run inside Django).

For a local backend sharing this database: the users are created in bulk with one
password hash (hashing a thousand passwords one by one takes minutes), and their first
tokens are issued here with the backend's secret, so no ``/session`` call is needed
until a token expires.
"""

import secrets
from datetime import timedelta

from simulator.transports import Credentials


def local_credentials(prefix: str, count: int, password: str | None = None) -> list[Credentials]:
    """``count`` active agent users named ``<prefix>-00000``..., each with a fresh token."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from handlers.auth.tokens import issue_token
    from handlers.models import AgentUser

    password = password or secrets.token_urlsafe(15)
    hashed = make_password(password)
    names = [f"{prefix}-{index:05d}" for index in range(count)]
    created_at = timezone.now() - timedelta(seconds=2)  # tokens issued below must not predate them
    existing = set(AgentUser.objects.filter(name__in=names).values_list("name", flat=True))
    AgentUser.objects.filter(name__in=existing).update(password=hashed, is_active=True, created_at=created_at)
    missing = [name for name in names if name not in existing]
    AgentUser.objects.bulk_create(
        [AgentUser(name=name, password=hashed, created_at=created_at) for name in missing], batch_size=500
    )
    return [Credentials(name, password, issue_token(name)) for name in names]
