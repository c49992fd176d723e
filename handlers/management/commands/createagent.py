"""``manage.py createagent [NAME] [--password PASSWORD]``: create an agent user, print its credentials."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handlers.auth import accounts


class Command(BaseCommand):
    help = "Create an active agent user and print its credentials (a missing name or password is generated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="user name (default: 8 random URL-safe characters)")
        parser.add_argument("--password", help="password (default: 15 random URL-safe characters)")

    def handle(self, *args: Any, **options: Any) -> None:
        name, password = options["name"], options["password"]
        if name is not None and not 0 < len(name) <= accounts.MAX_NAME_LENGTH:
            raise CommandError(f"the name must have 1 to {accounts.MAX_NAME_LENGTH} characters")
        if password is not None and len(password) < accounts.MIN_PASSWORD_LENGTH:
            raise CommandError(f"the password must have at least {accounts.MIN_PASSWORD_LENGTH} characters")
        try:
            credentials = accounts.create_agent_user(name, password)
        except accounts.NameTaken:
            raise CommandError(f"an agent user named {name!r} exists already")
        self.stdout.write(f"user-name: {credentials.user_name}\npassword: {credentials.password}")
