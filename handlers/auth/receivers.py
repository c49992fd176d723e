"""Signal wiring of agent authentication, imported by ``HandlersConfig.ready()``.

The token module's own receivers (forgetting cached verdicts on user and ban changes)
are connected by importing it here.
"""

from handlers.auth import tokens  # noqa: F401 - connects its model-change receivers
from handlers.auth.purge import ban_purger
from poa_backend.signals import backend_started, backend_stopping

backend_started.connect(ban_purger.start, dispatch_uid="auth-ban-purge-start")
backend_stopping.connect(ban_purger.stop, dispatch_uid="auth-ban-purge-stop")
