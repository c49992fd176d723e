"""The auth endpoints' brute-force throttle: the project's, which the history API shares, so a
name's failures count the same wherever its password is tried (see poa_backend/credentials.py)."""

from poa_backend.credentials import FailedCredentialsThrottle

__all__ = ["FailedCredentialsThrottle"]
