"""ASGI entry point: HTTP through Django, WebSocket through the plug-ins' socket routes.

Importing this module starts nothing. ``runbackend`` starts the process's lifecycle
(receivers, background loops) itself; under another server (``daphne
poa_backend.asgi:application``, uvicorn) it starts at the ASGI lifespan startup
event where the server sends one, else at the first connection.
"""

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poa_backend.settings")

from poa_backend.http import get_pooled_asgi_application

django_application = get_pooled_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up)

from poa_backend.core import lifecycle  # noqa: E402
from poa_backend.routing import PluginWebSocketRouter  # noqa: E402


class LifecycleApplication:
    """Starts the process's lifecycle before the first connection; answers lifespan events."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if not lifecycle.is_running():
            await sync_to_async(lifecycle.start, thread_sensitive=False)()  # reads the rows
        return await self.application(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await sync_to_async(lifecycle.start, thread_sensitive=False)()
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await sync_to_async(lifecycle.stop, thread_sensitive=False)()
                await send({"type": "lifespan.shutdown.complete"})
                return


application = LifecycleApplication(
    ProtocolTypeRouter(
        {
            "http": django_application,
            "websocket": PluginWebSocketRouter(),
        }
    )
)
