"""The web page's socket: the dashboard feed's frames, for a signed-in staff browser.

Same frames as the ``wssecret`` feed (catch-up, then every live frame, from this
process and, with Redis, the others), through the receiver's hub. Authenticated
by the Django session cookie, so a page from another site must not open it: the
``Origin`` has to be this host.
"""

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from django.urls import URLPattern, path

from receivers.dashboard.consumer import DashboardConsumer
from receivers.dashboard.page import BROWSER_FEED_PATH, may_watch

if TYPE_CHECKING:
    from receivers.dashboard.receiver import DashboardReceiver


def same_origin(scope: dict[str, Any]) -> bool:
    """Whether the handshake's ``Origin`` (when a browser sent one) is the host it connected to."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if origin is None:
        return True  # not a browser: nothing to forge with a cookie
    host = headers.get(b"host", b"").decode("latin-1").lower()
    return urlsplit(origin.decode("latin-1")).netloc.lower() == host


class BrowserFeedConsumer(DashboardConsumer):
    """The feed for the web page: a staff session (or a public dashboard) from this host."""

    kind = "browser"

    def refusal(self) -> int | None:
        if not same_origin(self.scope) or not may_watch(self.receiver, self.scope.get("user")):
            return 403
        return None

    def counted(self, sent: int) -> None:
        """Browsers are not dashboards of the protocol's feed: the receiver's figures leave them out."""


def browser_feed_urls(receiver: "DashboardReceiver") -> list[URLPattern]:
    app = AuthMiddlewareStack(BrowserFeedConsumer.as_asgi(receiver=receiver))
    return [path(BROWSER_FEED_PATH.lstrip("/"), app, name=f"{receiver.name}-browser-feed")]
