"""The auth endpoints refuse plain HTTP with 403 and a reason, unless allowed or behind a TLS proxy."""

import pytest
from django.contrib.auth.models import User

from handlers.models import CustomHandler
from tests.auth_client import AuthClient

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ADMIN = ("operator", "operator-password")
CALLS = [
    ("POST", "/session", {}),
    ("POST", "/user", {}),
    ("GET", "/user", None),
    ("DELETE", "/user/someone", None),
    ("PATCH", "/user/someone", {"active": True}),
    ("POST", "/blacklist/token", {"token": "x"}),
    ("POST", "/blacklist/user", {"user": "x"}),
]


def plain_http_listener(live_backend, env=None):
    """A second auth listener, on plain HTTP, to call the endpoints there."""
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True)
    CustomHandler.objects.create(
        name="plain", class_path="handlers.auth.AuthHandler", options={"scheme": "http", "port": 4999}
    )
    backend = live_backend(env=env)
    return AuthClient(backend.url("plain"))


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_plain_http_gets_403_with_a_reason(live_backend, encoding):
    client = plain_http_listener(live_backend)
    client.encoding = encoding
    for method, path, body in CALLS:
        response = client.call(method, path, {} if body is None else body, auth=ADMIN)
        assert response.status_code == 403, (method, path)
        assert response.json() == {
            "error": "tls_required",
            "detail": "these endpoints carry passwords: use HTTPS",
        }
    assert client.call("GET", "/no-such-path", auth=ADMIN).status_code == 404


def test_plain_http_may_be_allowed_by_a_setting(live_backend):
    client = plain_http_listener(live_backend, env={"POA_ALLOW_PLAIN_HTTP_AUTH": "true"})
    assert client.call("GET", "/user", auth=ADMIN).json() == []


def test_a_tls_terminating_proxy_is_trusted_through_secure_proxy_ssl_header(live_backend):
    client = plain_http_listener(live_backend, env={"SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"})
    assert client.call("GET", "/user", auth=ADMIN, headers={"X-Forwarded-Proto": "https"}).status_code == 200
    assert client.call("GET", "/user", auth=ADMIN).status_code == 403
