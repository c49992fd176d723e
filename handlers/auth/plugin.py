"""The auth handler plug-in: serves the session, user and ban endpoints (protocol section 6)."""

from django.urls import URLPattern

from handlers.base import CustomHandler


class AuthHandler(CustomHandler):
    """Agent sessions and the admin user API; meant for an https listener (plain HTTP gets 403)."""

    def http_urls(self) -> list[URLPattern]:
        from handlers.auth.urls import urlpatterns

        return list(urlpatterns)
