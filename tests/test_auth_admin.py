"""The Django admin for agent users and banned tokens."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handlers.auth.tokens import InvalidToken, check_token, issue_token
from handlers.models import AgentUser, BannedToken

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/handlers/agentuser/"


def test_adding_an_agent_user_shows_its_generated_password_once(admin_client):
    page = admin_client.post(f"{CHANGELIST}add/", {"name": "node-x", "is_active": "on"}, secure=True)
    assert page.status_code == 200
    user = AgentUser.objects.get(name="node-x")
    password = page.context["password"]
    assert len(password) == 15
    assert user.check_password(password)
    assert password in page.content.decode()
    assert password not in admin_client.get(f"{CHANGELIST}{user.pk}/change/", secure=True).content.decode()


def test_a_blank_name_is_generated(admin_client):
    page = admin_client.post(f"{CHANGELIST}add/", {"name": "", "is_active": "on"}, secure=True)
    assert len(page.context["user_name"]) == 8
    assert AgentUser.objects.get().name == page.context["user_name"]


@pytest.mark.parametrize(("action", "active_after"), [("deactivate", False), ("activate", True)])
def test_actions(admin_client, action, active_after):
    AgentUser.objects.create(name="node-y", password="!", is_active=not active_after)
    AgentUser.objects.create(name="node-z", password="!")
    token = issue_token("node-y")
    if not active_after:
        assert check_token(token) == "node-y"
    pk = AgentUser.objects.get(name="node-y").pk
    admin_client.post(CHANGELIST, {"action": action, "_selected_action": [pk]}, secure=True)
    assert AgentUser.objects.get(name="node-y").is_active is active_after
    assert AgentUser.objects.get(name="node-z").is_active
    if active_after:
        assert check_token(token) == "node-y"
    else:
        with pytest.raises(InvalidToken):
            check_token(token)


def test_search_and_filter(admin_client):
    AgentUser.objects.create(name="alpha-node", password="!")
    AgentUser.objects.create(name="beta-node", password="!", is_active=False)
    found = admin_client.get(CHANGELIST, {"q": "alpha"}, secure=True).context["cl"].result_list
    assert [user.name for user in found] == ["alpha-node"]
    inactive = admin_client.get(CHANGELIST, {"is_active__exact": "0"}, secure=True).context["cl"].result_list
    assert [user.name for user in inactive] == ["beta-node"]


def test_banned_tokens_list_and_purge(admin_client):
    now = timezone.now()
    BannedToken.objects.create(jti="old", user_name="a", expires_at=now - timedelta(hours=1))
    BannedToken.objects.create(jti="current", user_name="a", expires_at=now + timedelta(hours=1))
    page = admin_client.get("/admin/handlers/bannedtoken/", secure=True)
    assert page.status_code == 200
    assert "current" in page.content.decode()
    pk = BannedToken.objects.get(jti="current").pk
    admin_client.post(
        "/admin/handlers/bannedtoken/", {"action": "purge_expired", "_selected_action": [pk]}, secure=True
    )
    assert list(BannedToken.objects.values_list("jti", flat=True)) == ["current"]
