"""The auth handler plug-in: serves the session, user and ban endpoints (protocol section 6)."""

from django.urls import URLPattern

from poa_backend.core.handler import HandlerPlugin


class AuthHandler(HandlerPlugin):
    """Agent sessions and the admin user API; meant for an https listener (plain HTTP gets 403)."""

    def http_urls(self) -> list[URLPattern]:
        from handlers.auth.urls import urlpatterns

        return list(urlpatterns)
