"""Expired banned tokens are purged by the command and, while the server runs, automatically."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from handlers.models import BannedToken


def ban_four_three_expired():
    now = timezone.now()
    for number, offset in enumerate([-3600, -60, -1, 3600]):
        BannedToken.objects.create(
            jti=f"jti-{number}", user_name="a", expires_at=now + timedelta(seconds=offset)
        )


@pytest.mark.django_db
def test_purgetokens_deletes_the_expired_bans(capsys):
    ban_four_three_expired()
    call_command("purgetokens")
    assert list(BannedToken.objects.values_list("jti", flat=True)) == ["jti-3"]
    assert "purged 3 expired banned tokens" in capsys.readouterr().out


def test_the_running_server_purges_expired_bans(live_backend):
    ban_four_three_expired()
    live_backend(env={"POA_BANNED_TOKEN_PURGE_INTERVAL": "0.2"})
    deadline = time.monotonic() + 10
    while BannedToken.objects.count() > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(BannedToken.objects.values_list("jti", flat=True)) == ["jti-3"]
    # and again for bans that expire while it runs
    BannedToken.objects.create(
        jti="jti-late", user_name="a", expires_at=timezone.now() - timedelta(seconds=1)
    )
    deadline = time.monotonic() + 10
    while BannedToken.objects.filter(jti="jti-late").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not BannedToken.objects.filter(jti="jti-late").exists()
