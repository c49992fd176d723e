"""ASGI entry point: HTTP through Django, WebSocket through the plug-ins' socket routes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poa_backend.settings")
django_application = get_asgi_application()

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
