"""A token stops working after a ban, a user ban, a deactivation in the admin and a deletion;
an expired token is told apart. Shown in this process (check_token) and through the running
server (POST /blacklist/token answers 404 for a token that is no longer valid)."""

import re
import time

import pytest
from django.contrib.auth.models import User

from handlers.auth.tokens import InvalidToken, TokenExpired, check_token
from handlers.models import AgentUser
from tests.auth_client import AuthClient

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ADMIN = ("operator", "operator-password")
AGENT = ("agent-9", "agent-password")


@pytest.fixture(autouse=True)
def _no_verdict_cache_here(settings):
    """The server is another process: its changes reach a cached verdict here only after the
    cache TTL (documented). Without the cache, this process sees each change right away."""
    settings.POA_BACKEND = {**settings.POA_BACKEND, "JWT_CHECK_CACHE_TTL": 0}


def start(live_backend, env=None):
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True, is_superuser=True)
    backend = live_backend(env=env)
    client = AuthClient(backend.url("auth"))
    assert client.call("POST", "/user", {"user-name": AGENT[0], "password": AGENT[1]}, auth=ADMIN).ok
    return backend, client


def still_valid_on_server(client, token):
    """The server's own verdict, without changing anything when the token is invalid."""
    response = client.call("POST", "/blacklist/token", {"token": token}, auth=ADMIN)
    assert response.status_code in (200, 404)
    return response.status_code == 200


def test_revocations_through_the_api(live_backend):
    _, client = start(live_backend)
    banned, of_banned_user, of_deleted_user = (client.session_token(*AGENT) for _ in range(3))
    assert check_token(banned) == AGENT[0]

    assert client.call("POST", "/blacklist/token", {"token": banned}, auth=ADMIN).status_code == 200
    with pytest.raises(InvalidToken):
        check_token(banned)
    assert not still_valid_on_server(client, banned)

    assert check_token(of_banned_user) == AGENT[0]
    assert client.call("POST", "/blacklist/user", {"user": AGENT[0]}, auth=ADMIN).status_code == 200
    with pytest.raises(InvalidToken):
        check_token(of_banned_user)
    assert not still_valid_on_server(client, of_banned_user)

    assert client.call("PATCH", f"/user/{AGENT[0]}", {"active": True}, auth=ADMIN).status_code == 204
    assert check_token(of_deleted_user) == AGENT[0]
    assert client.call("DELETE", f"/user/{AGENT[0]}", auth=ADMIN).status_code == 204
    with pytest.raises(InvalidToken):
        check_token(of_deleted_user)
    assert not still_valid_on_server(client, of_deleted_user)


def test_deactivation_in_the_admin_stops_the_token(live_backend):
    backend, client = start(live_backend)
    token = client.session_token(*AGENT)
    assert check_token(token) == AGENT[0]

    # The Django admin of the running server, over HTTPS, as an operator uses it.
    admin = client.session
    base = backend.url("auth")
    login_page = admin.get(f"{base}/admin/login/", verify=False)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    form = {"csrfmiddlewaretoken": csrf, "username": ADMIN[0], "password": ADMIN[1], "next": "/admin/"}
    logged_in = admin.post(f"{base}/admin/login/", data=form, headers={"Referer": base + "/"}, verify=False)
    assert logged_in.status_code == 200
    assert "Log out" in logged_in.text or "logout" in logged_in.text
    changelist = f"{base}/admin/handlers/agentuser/"
    page = admin.get(changelist, verify=False)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    pk = AgentUser.objects.get(name=AGENT[0]).pk
    action = {
        "csrfmiddlewaretoken": csrf,
        "action": "deactivate",
        "_selected_action": [str(pk)],
        "index": "0",
    }
    done = admin.post(changelist, data=action, headers={"Referer": changelist}, verify=False)
    assert done.status_code == 200
    assert not AgentUser.objects.get(name=AGENT[0]).is_active

    with pytest.raises(InvalidToken):
        check_token(token)
    assert not still_valid_on_server(client, token)


def test_an_expired_token_is_told_apart(live_backend):
    _, client = start(live_backend, env={"POA_JWT_LIFETIME": "1"})
    token = client.session_token(*AGENT)
    assert still_valid_on_server(client, token)  # banned now: take another one
    token = client.session_token(*AGENT)
    time.sleep(1.2)
    with pytest.raises(TokenExpired):
        check_token(token)
    assert not still_valid_on_server(client, token)
    tampered = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    with pytest.raises(InvalidToken):
        check_token(tampered)
