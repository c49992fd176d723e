"""Start and stop what runs beside the server in each process (receivers, presence, purges)."""

import atexit
import logging
import threading

from poa_backend.signals import backend_started, backend_stopping

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_running = False


def start() -> None:
    """Tell the apps this process serves now; idempotent."""
    global _running
    with _lock:
        if _running:
            return
        _running = True
    backend_started.send(sender=None)
    atexit.register(stop)


def stop() -> None:
    """Tell the apps this process is stopping (receivers drain and terminate); idempotent."""
    global _running
    with _lock:
        if not _running:
            return
        _running = False
    backend_stopping.send(sender=None)
