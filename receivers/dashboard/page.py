"""The web dashboard: a page at ``/`` on the dashboard listener that shows the feed live.

Browsers cannot send the ``wssecret`` header, so the page reads its own socket
(receivers/dashboard/browser.py) carrying the same frames, and both are for
staff users signed in through the admin login. The receiver option
``"public_dashboard": true`` opens them to anyone, read-only.
"""

from typing import TYPE_CHECKING, Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.views import View

from poa_backend.core.conf import poa_settings

if TYPE_CHECKING:
    from receivers.dashboard.receiver import DashboardReceiver

#: Where the page's socket is served (on the receiver's listener, like its other routes).
BROWSER_FEED_PATH = "/dashboard/feed"


def clean_page_options(options: dict[str, Any]) -> dict[str, Any]:
    """Check the page's option: ``public_dashboard`` (default false)."""
    if not isinstance(options.get("public_dashboard", False), bool):
        raise ValidationError("public_dashboard: must be true or false")
    return options


def may_watch(receiver: "DashboardReceiver", user: Any) -> bool:
    """Who may see the page and its feed: staff users, or anyone when the receiver says public."""
    if receiver.options.get("public_dashboard"):
        return True
    return bool(user is not None and user.is_authenticated and user.is_staff)


class DashboardPage(View):
    """The page itself; the data arrives over its socket."""

    receiver: "DashboardReceiver | None" = None
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not may_watch(self.receiver, request.user):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        config = {
            "feedPath": BROWSER_FEED_PATH,
            "inactivityTimeout": poa_settings.INACTIVITY_TIMEOUT,
        }
        return render(
            request,
            "receivers/dashboard.html",
            {"config": config, "public": bool(self.receiver.options.get("public_dashboard"))},
        )


def page_urls(receiver: "DashboardReceiver") -> list[URLPattern]:
    return [path("", DashboardPage.as_view(receiver=receiver), name=f"{receiver.name}-page")]
