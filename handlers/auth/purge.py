"""Deletes expired banned tokens while the server runs, every ``BANNED_TOKEN_PURGE_INTERVAL`` seconds.

Started on ``backend_started`` and stopped on ``backend_stopping`` (see handlers/apps.py);
``python manage.py purgetokens`` does the same once.
"""

import logging

from django.db import close_old_connections, connection

from handlers.auth.accounts import purge_expired_bans
from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop

logger = logging.getLogger(__name__)


def purge() -> None:
    """One purge on this thread's own connection, closed afterwards."""
    close_old_connections()
    try:
        purged = purge_expired_bans()
        if purged:
            logger.info("purged %d expired banned tokens", purged)
    finally:
        connection.close()


#: Purges at start and then every interval, until stopped.
ban_purger = Loop(
    "poa-ban-purge", purge, lambda: float(poa_settings.BANNED_TOKEN_PURGE_INTERVAL), run_first=True
)
