"""Deletes expired banned tokens while the server runs, every ``BANNED_TOKEN_PURGE_INTERVAL`` seconds.

Started on ``backend_started`` and stopped on ``backend_stopping`` (see receivers.py);
``python manage.py purgetokens`` does the same once.
"""

import logging
import threading
from typing import Any

from django.db import close_old_connections, connection

from handlers.auth.accounts import purge_expired_bans
from poa_backend.conf import poa_settings

logger = logging.getLogger(__name__)


class BanPurger:
    """A daemon thread purging at start and then at every interval, until stopped."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, **kwargs: Any) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="poa-ban-purge", daemon=True)
        self._thread.start()

    def stop(self, **kwargs: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                close_old_connections()
                purged = purge_expired_bans()
                if purged:
                    logger.info("purged %d expired banned tokens", purged)
            except Exception:  # a database hiccup must not end the purges
                logger.exception("purging expired banned tokens failed")
            finally:
                connection.close()
            self._stop.wait(float(poa_settings.BANNED_TOKEN_PURGE_INTERVAL))


ban_purger = BanPurger()
