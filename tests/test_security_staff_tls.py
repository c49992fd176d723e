"""Staff credentials and sessions only over HTTPS: on the plain-HTTP listeners the admin and the
history API redirect to the HTTPS listener or refuse with 403; cookies are ``Secure``."""

import base64

import pytest
import requests
from django.contrib.auth.models import User

from tests.agent_client import request

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

STAFF = ("operator", "operator-password")
PLAIN_LISTENERS = ["rest", "dashboard"]


def basic(name, password):
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def history(base_url, headers=None):
    """``GET /api/agents/`` with the staff user's Basic credentials unless other headers are given."""
    headers = headers or {"Authorization": basic(*STAFF)}
    return request(base_url, "/api/agents/", headers=headers, method="GET")


@pytest.fixture
def backend(live_backend):
    User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)
    return live_backend()


@pytest.mark.parametrize("listener", PLAIN_LISTENERS)
def test_the_admin_on_a_plain_listener_redirects_to_the_https_listener(backend, listener):
    reply = request(backend.url(listener), "/admin/login/?next=/admin/", method="GET")
    assert reply.status == 302
    assert reply.headers["location"] == f"{backend.url('auth')}/admin/login/?next=/admin/"
    reply = request(backend.url(listener), "/api/agents/", method="GET")
    assert reply.status == 302
    assert reply.headers["location"] == f"{backend.url('auth')}/api/agents/"


@pytest.mark.parametrize("listener", PLAIN_LISTENERS)
def test_credentials_sent_in_clear_are_refused_with_a_reason(backend, listener):
    reply = history(backend.url(listener))
    assert reply.status == 403
    assert reply.json() == {
        "error": "tls_required",
        "detail": f"staff credentials and sessions need HTTPS: use {backend.url('auth')}/api/agents/",
    }
    form = f"username={STAFF[0]}&password={STAFF[1]}".encode()
    reply = request(
        backend.url(listener),
        "/admin/login/",
        form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 403
    assert reply.json()["error"] == "tls_required"


def test_over_https_the_history_api_and_the_admin_work_with_secure_cookies(backend):
    reply = history(backend.url("auth"))
    assert reply.status == 200

    browser = requests.Session()
    login = f"{backend.url('auth')}/admin/login/"
    page = browser.get(login, verify=False, timeout=30)
    assert page.status_code == 200
    assert "secure" in page.headers["Set-Cookie"].lower()
    answer = browser.post(
        login,
        data={
            "username": STAFF[0],
            "password": STAFF[1],
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        verify=False,
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    session_cookie = next(cookie for cookie in browser.cookies if cookie.name == "sessionid")
    assert session_cookie.secure
    assert browser.get(f"{backend.url('auth')}/admin/", verify=False, timeout=30).status_code == 200


def test_the_schema_and_agent_calls_stay_on_plain_http(backend):
    assert request(backend.url("rest"), "/api/schema/", method="GET").status == 200
    assert request(backend.url("rest"), "/ping", b"{}", {"Content-Type": "application/json"}).status == 422


def test_allow_plain_http_auth_serves_staff_over_plain_http(live_backend):
    User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)
    backend = live_backend(env={"POA_ALLOW_PLAIN_HTTP_AUTH": "true"})
    reply = history(backend.url("rest"))
    assert reply.status == 200


def test_a_tls_terminating_proxy_is_trusted_through_secure_proxy_ssl_header(live_backend):
    User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)
    backend = live_backend(env={"SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"})
    assert history(backend.url("rest")).status == 403
    proxied = {"Authorization": basic(*STAFF), "X-Forwarded-Proto": "https"}
    assert history(backend.url("rest"), proxied).status == 200


def test_failed_admin_sign_ins_are_throttled_in_the_counters_basic_uses(live_backend):
    User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)
    backend = live_backend(env={"POA_AUTH_FAILURE_LIMIT": "3"})
    login = f"{backend.url('auth')}/admin/login/"
    browser = requests.Session()
    assert browser.get(login, verify=False, timeout=30).status_code == 200

    def sign_in(password):
        return browser.post(
            login,
            data={
                "username": STAFF[0],
                "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": login},
            verify=False,
            timeout=30,
            allow_redirects=False,
        )

    for _ in range(3):
        assert sign_in("a-guess").status_code == 200  # the form again, with its error
    locked = sign_in(STAFF[1])  # the right password, no longer checked
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert "try again in" in locked.text
    # Guesses through the form count where the history API's Basic guesses count.
    assert history(backend.url("auth")).status == 429
