"""Agent authentication: credentials for JWT sessions, the admin user API, token and user bans."""

from handlers.auth.plugin import AuthHandler

__all__ = ["AuthHandler"]
