"""Agent authentication: credentials for JWT sessions, the admin user API, token and user bans."""
