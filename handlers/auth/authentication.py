"""HTTP Basic for the two kinds of principal: agent users (``/session``) and admins (Django staff).

Both parse the header strictly and remember recent successes (poa_backend/core/credentials.py):
a malformed header is a failure, never a password check.
"""

from django.contrib.auth.hashers import make_password
from rest_framework.exceptions import AuthenticationFailed

from handlers.models import AgentUser
from poa_backend.core.credentials import (
    StaffBasicAuthentication,
    StrictBasicAuthentication,
    recently_verified,
)

#: Admins are the project's staff, as on the history API.
StaffAuthentication = StaffBasicAuthentication


class AgentUserAuthentication(StrictBasicAuthentication):
    """An active agent user's name and password; ``request.user`` becomes the AgentUser."""

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
