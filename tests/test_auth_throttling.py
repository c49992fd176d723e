"""Brute force: failed credential checks are limited per address and per user name; successes never."""

import base64

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from handlers.auth import accounts
from handlers.auth.views import SessionView, UsersView
from tests.auth_client import AuthClient

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ADMIN = ("operator", "operator-password")
AGENT = ("agent-3", "agent-password")


def start(live_backend, env=None):
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True)
    backend = live_backend(env=env)
    client = AuthClient(backend.url("auth"))
    assert client.call("POST", "/user", {"user-name": AGENT[0], "password": AGENT[1]}, auth=ADMIN).ok
    return backend, client


def assert_throttled(response):
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json()["error"] == "throttled"


def test_the_11th_wrong_password_in_a_minute_is_429(live_backend):
    _, client = start(live_backend)
    for _ in range(10):
        assert client.call("POST", "/session", {}, auth=(AGENT[0], "wrong-password")).status_code == 401
    assert_throttled(client.call("POST", "/session", {}, auth=(AGENT[0], "wrong-password")))
    # locked out: even the right password is not checked until the window ends
    assert_throttled(client.call("POST", "/session", {}, auth=AGENT))


def test_the_11th_wrong_admin_password_in_a_minute_is_429(live_backend):
    _, client = start(live_backend)
    for _ in range(10):
        assert client.call("GET", "/user", auth=(ADMIN[0], "wrong-password")).status_code == 401
    assert_throttled(client.call("GET", "/user", auth=(ADMIN[0], "wrong-password")))
    assert_throttled(client.call("POST", "/user", {}, auth=ADMIN))


def test_300_successful_calls_are_never_throttled(live_backend):
    _, client = start(live_backend)
    for _ in range(9):  # failures short of the limit do not change that
        assert client.call("POST", "/session", {}, auth=(AGENT[0], "wrong-password")).status_code == 401
    for _ in range(300):
        assert client.call("POST", "/session", {"agent-id": "n"}, auth=AGENT).status_code == 200
    for number in range(300):
        body = {"user-name": f"provisioned-{number}", "password": "provisioned-password"}
        assert client.call("POST", "/user", body, auth=ADMIN).status_code == 200


def test_a_user_name_is_limited_across_addresses(db):
    """Many addresses guessing one name's password are stopped by the per-name counter."""
    cache.clear()
    accounts.create_agent_user("victim", "right-password")
    factory = APIRequestFactory()
    view = SessionView.as_view()

    def attempt(address, password):
        request = factory.post(
            "/session",
            {},
            format="json",
            secure=True,
            REMOTE_ADDR=address,
            HTTP_AUTHORIZATION=basic("victim", password),
        )
        return view(request).status_code

    for number in range(10):
        assert attempt(f"10.0.0.{number}", "wrong-password") == 401
    assert attempt("10.0.1.1", "wrong-password") == 429
    assert attempt("10.0.1.2", "right-password") == 429
    cache.clear()
    assert attempt("10.0.1.2", "right-password") == 200


def basic(name, password):
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


@pytest.mark.redis
def test_failures_are_counted_across_processes_with_redis(live_backend, redis_url, redis_prefix):
    env = {"REDIS_URL": redis_url, "POA_REDIS_PREFIX": redis_prefix}
    _, client_a = start(live_backend, env=env)
    second = live_backend(env=env)  # a second process, on ports of its own
    client_b = AuthClient(second.url("auth"))
    assert client_b.call("GET", "/user", auth=ADMIN).status_code == 200, second.log

    for client in (client_a, client_b) * 5:
        assert client.call("POST", "/session", {}, auth=(AGENT[0], "wrong-password")).status_code == 401
    assert_throttled(client_a.call("POST", "/session", {}, auth=(AGENT[0], "wrong-password")))
    assert_throttled(client_b.call("POST", "/session", {}, auth=(AGENT[0], "wrong-password")))


def malformed_basic(name, password):
    """Valid base64 of ``name:password`` with a character outside the alphabet inside it
    (lenient decoders skip it and would read the same credentials)."""
    encoded = base64.b64encode(f"{name}:{password}".encode()).decode()
    return "Basic " + encoded[:4] + "!" + encoded[4:]


def test_a_malformed_basic_header_is_a_failure_and_its_password_never_checked(live_backend):
    _, client = start(live_backend)
    headers = {"Authorization": malformed_basic(*AGENT)}
    assert client.call("POST", "/session", {}, headers=headers).status_code == 401
    for _ in range(9):
        assert client.call("POST", "/session", {}, headers=headers).status_code == 401
    assert_throttled(client.call("POST", "/session", {}, auth=AGENT))


def history(client, auth=None, headers=None):
    return client.session.get(
        client.base_url + "/api/agents/", auth=auth, headers=headers, verify=False, timeout=30
    )


def test_staff_basic_on_the_history_api_is_throttled(live_backend):
    _, client = start(live_backend)
    assert history(client, ADMIN).status_code == 200
    for _ in range(10):
        assert history(client, (ADMIN[0], "wrong-password")).status_code == 401
    refused = history(client, (ADMIN[0], "wrong-password"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert history(client, ADMIN).status_code == 429  # locked out: not even checked


def test_a_malformed_basic_header_on_the_history_api_is_a_failure(live_backend):
    _, client = start(live_backend)
    assert history(client, headers={"Authorization": malformed_basic(*ADMIN)}).status_code == 401


def test_staff_failures_count_alike_on_the_auth_endpoints_and_the_history_api(db):
    """One staff name guessed from many addresses, half on each API, is stopped by the name."""
    from receivers.api.views import KnownAgentViewSet

    cache.clear()
    User.objects.create_user("victim", password="right-password", is_staff=True)
    factory = APIRequestFactory()
    history_view = KnownAgentViewSet.as_view({"get": "list"})
    users_view = UsersView.as_view()

    def attempt(view, path, address, password):
        request = factory.get(
            path, secure=True, REMOTE_ADDR=address, HTTP_AUTHORIZATION=basic("victim", password)
        )
        return view(request).status_code

    for number in range(5):
        assert attempt(history_view, "/api/agents/", f"10.0.0.{number}", "wrong-password") == 401
        assert attempt(users_view, "/user", f"10.0.1.{number}", "wrong-password") == 401
    assert attempt(history_view, "/api/agents/", "10.0.2.1", "right-password") == 429
    assert attempt(users_view, "/user", "10.0.2.2", "right-password") == 429
