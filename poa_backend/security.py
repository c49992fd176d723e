"""Staff credentials and sessions travel only over TLS.

The Django admin and the history API take staff passwords (HTTP Basic, the login
form) and session cookies. On a plain-HTTP listener the rows name (by default the
REST handler's 4002 and the dashboard's 8181) they are not served: a ``GET`` or
``HEAD`` without credentials (a browser following a link) is redirected to the same
path on the HTTPS listener; anything else, and every request when no HTTPS listener
runs, is refused with 403 and a reason, before any password is checked, so that
whoever sends credentials in clear finds out. ``/api/schema/`` carries none and stays
on every listener; ``/metrics`` has its own token and is not affected.

A request is secure when Daphne served it over TLS or, behind a TLS-terminating proxy,
when ``SECURE_PROXY_SSL_HEADER`` says so; ``ALLOW_PLAIN_HTTP_AUTH`` lets plain HTTP
through (a proxy that cannot set the header). A port no row names (``daphne
poa_backend.asgi:application`` behind a proxy) is left to that proxy.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.request import split_domain_port

from poa_backend.core.conf import poa_settings
from poa_backend.core.plugins import Listener, https_listener, listeners

#: Where staff credentials are taken, and the exceptions within.
STAFF_PATHS = ("/admin/", "/api/")
PUBLIC_PATHS = ("/api/schema/",)


def tls_required(detail: str) -> HttpResponse:
    return JsonResponse({"error": "tls_required", "detail": detail}, status=403)


class StaffOverTLSMiddleware:
    """Redirects or refuses the admin and the history API on plain-HTTP listeners."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            path.startswith(STAFF_PATHS)
            and not path.startswith(PUBLIC_PATHS)
            and not request.is_secure()
            and not poa_settings.ALLOW_PLAIN_HTTP_AUTH
        ):
            all_listeners = listeners()
            port = request.META.get("SERVER_PORT")
            if any(item.scheme == "http" and str(item.port) == port for item in all_listeners):
                return self.answer_plain_http(request, https_listener(all_listeners))
        return self.get_response(request)

    def answer_plain_http(self, request: HttpRequest, target: Listener | None) -> HttpResponse:
        carries_credentials = (
            "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES
        )
        if target is None:
            return tls_required("staff credentials and sessions need HTTPS, and no HTTPS listener runs")
        domain, _ = split_domain_port(request.get_host())
        if ":" in domain and not domain.startswith("["):
            domain = f"[{domain}]"
        location = f"https://{domain}:{target.port}{request.get_full_path()}"
        if request.method in ("GET", "HEAD") and not carries_credentials:
            return HttpResponseRedirect(location)
        return tls_required(f"staff credentials and sessions need HTTPS: use {location}")
