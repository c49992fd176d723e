"""ASGI entry point: HTTP through Django, WebSocket through the plug-ins' socket routes."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poa_backend.settings")

from poa_backend.http import get_pooled_asgi_application

django_application = get_pooled_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up)

from poa_backend import runtime  # noqa: E402
from poa_backend.routing import PluginWebSocketRouter  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": PluginWebSocketRouter(),
    }
)

runtime.start()
