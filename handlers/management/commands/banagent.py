"""``python manage.py banagent NAME``: deactivate an agent user, so all its tokens stop working."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handlers.auth import accounts


class Command(BaseCommand):
    help = "Ban an agent user: deactivate it, so all its tokens stop working (other processes within ~1 s)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the agent user's name")

    def handle(self, *args: Any, **options: Any) -> None:
        if not accounts.ban_user(options["name"]):
            raise CommandError(f"no agent user named {options['name']!r}")
        self.stdout.write(f"banned agent user {options['name']}")
