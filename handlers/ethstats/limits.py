"""Per-node limits: how much one node may send, and the temporary ban of a node that sends more.

Like substrate-telemetry's, a node's frames per second are capped (a token bucket: a
sustained rate and a burst); a node over it is disconnected and its id banned for a
while, so reconnecting at once does not help. Bans live in Django's cache: with
``REDIS_URL`` every process refuses the banned id. Connections per address and new
connections per second are the server's limits (``poa_backend.server``).
"""

import hashlib
import time

from django.core.cache import cache

BAN_KEY_PREFIX = "ethstats-ban"


class TokenBucket:
    """``rate`` frames a second on average, at most ``burst`` at once."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = time.monotonic()

    def take(self) -> bool:
        """Whether one more frame fits now (it is counted if it does)."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def _ban_key(node_id: str) -> str:
    return f"{BAN_KEY_PREFIX}:{hashlib.sha256(node_id.encode('utf-8', 'surrogatepass')).hexdigest()}"


def ban(node_id: str, seconds: float) -> None:
    """Refuse this node's hellos for ``seconds`` (sync: the cache may be Redis)."""
    cache.set(_ban_key(node_id), time.time() + seconds, timeout=max(1, round(seconds)))


def is_banned(node_id: str) -> bool:
    until = cache.get(_ban_key(node_id))
    return until is not None and until > time.time()
