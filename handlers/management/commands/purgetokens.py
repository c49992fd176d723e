"""``python manage.py purgetokens``: delete banned tokens that have expired anyway."""

from typing import Any

from django.core.management.base import BaseCommand

from handlers.auth import accounts


class Command(BaseCommand):
    help = "Delete expired banned tokens (runbackend also does this every BANNED_TOKEN_PURGE_INTERVAL)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"purged {accounts.purge_expired_bans()} expired banned tokens")
