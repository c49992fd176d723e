"""One lifecycle for each server process: what runs beside the server starts and stops here.

``start()`` reads the configuration snapshots (metric types, enabled plug-ins), then tells the
apps the process serves now (``backend_started``): the
receivers start, and so do the background loops (presence sweep, banned-token
purge, metrics sampler, the receivers' supervisor). ``stop()`` tells them it is
stopping (``backend_stopping``): receivers drain and terminate. ``runbackend``
calls both; under another ASGI server the application calls ``start()`` on its
first connection or lifespan event (``poa_backend.asgi``). Importing a module
starts nothing.

``Loop`` is the one shape of a background loop: a daemon thread that runs a step,
waits, and runs it again until stopped; a wait is cut short by ``stop()``.
"""

import atexit
import logging
import threading
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections

from poa_backend.core import snapshot
from poa_backend.core.signals import backend_started, backend_stopping

logger = logging.getLogger(__name__)
#: Failures that mean a service is away (database, network), not a defect: a loop's step logs
#: them as a line, a receiver's hook retries (``ReceiverPlugin.is_transient``).
SERVICE_AWAY = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
_lock = threading.Lock()
_running = False


def start() -> None:
    """Read the configuration, then tell the apps this process serves now; idempotent. With the
    database away and nothing read yet this raises: ``runbackend`` restarts such a worker."""
    global _running
    with _lock:
        if _running:
            return
        _running = True
    snapshot.read_all()
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


def is_running() -> bool:
    return _running


class Loop:
    """``step`` on a daemon thread every ``interval`` seconds (a number, or a callable giving the
    next pause), from ``start()`` until ``stop()``. A step that raises is logged and the loop
    goes on after ``error_pause`` seconds; ``stop()`` cuts any pause short.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        interval: float | Callable[[], float],
        *,
        run_first: bool = False,
        error_pause: float = 1.0,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.run_first = run_first
        self.error_pause = error_pause
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, **kwargs: object) -> None:
        """Start the thread (idempotent; takes signal keyword arguments)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0, **kwargs: object) -> None:
        """Stop after the current step, waiting up to ``timeout`` seconds for it."""
        self.stopping.set()
        if self._thread is not None:
            if self._thread is not threading.current_thread():
                self._thread.join(timeout)
            self._thread = None

    def _pause(self) -> float:
        return self.interval() if callable(self.interval) else float(self.interval)

    def _run(self) -> None:
        try:
            if not self.run_first and self.stopping.wait(self._pause()):
                return
            while True:
                try:
                    self.step()
                    pause = self._pause()
                except SERVICE_AWAY as exc:  # an outage: one line a try, not a traceback
                    logger.warning("%s: step failed: %s", self.name, exc)
                    pause = self.error_pause
                except Exception:
                    logger.exception("%s: step failed", self.name)
                    pause = self.error_pause
                if self.stopping.wait(pause):
                    return
        finally:
            connections.close_all()  # this thread's persistent connections end with it
