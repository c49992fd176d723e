"""Every row of the protocol's auth table (section 6), over real HTTPS, in JSON and in MessagePack."""

import base64

import jwt
import pytest
from django.contrib.auth.models import User

from handlers.models import AgentUser
from tests.auth_client import CONTENT_TYPES, AuthClient

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ADMIN = ("operator", "operator-password")
AGENT = ("agent-1", "agent-password")


@pytest.fixture(params=["json", "msgpack"])
def client(request, live_backend):
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True)
    User.objects.create_user("plain-user", password="plain-password")
    User.objects.create_user("former-staff", password="former-password", is_staff=True, is_active=False)
    backend = live_backend()
    return AuthClient(backend.url("auth"), request.param)


def create_agent(client, name=AGENT[0], password=AGENT[1], **extra):
    response = client.call("POST", "/user", {"user-name": name, "password": password, **extra}, auth=ADMIN)
    assert response.status_code == 200, response.content
    return response


BAD_ADMINS = [
    None,
    (ADMIN[0], "wrong-password"),
    ("nobody", "whatever-password"),
    ("plain-user", "plain-password"),
    ("former-staff", "former-password"),
]


def assert_empty(response, status):
    assert (response.status_code, response.content) == (status, b"")


# POST /session


def test_session_answers_a_token_for_good_credentials(client):
    create_agent(client)
    response = client.call("POST", "/session", {"agent-id": "node-1"}, auth=AGENT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"token"}
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["sub"] == AGENT[0]
    assert {"exp", "iat", "nbf", "jti", "iss"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 3600
    # the agent-id is optional
    assert client.call("POST", "/session", {}, auth=AGENT).status_code == 200


def test_session_is_401_empty_for_unknown_user_wrong_password_or_inactive_user(client):
    create_agent(client)
    assert_empty(client.call("POST", "/session", {"agent-id": "a"}, auth=("nobody", AGENT[1])), 401)
    assert_empty(client.call("POST", "/session", {"agent-id": "a"}, auth=(AGENT[0], "wrong-pass")), 401)
    assert_empty(client.call("POST", "/session", {"agent-id": "a"}), 401)
    assert_empty(client.call("PATCH", f"/user/{AGENT[0]}", {"active": False}, auth=ADMIN), 204)
    assert_empty(client.call("POST", "/session", {"agent-id": "a"}, auth=AGENT), 401)


def test_session_refuses_a_malformed_basic_header(client):
    garbage = {"Authorization": "Basic !!!not-base64"}
    assert_empty(client.call("POST", "/session", {}, headers=garbage), 401)
    no_colon = {"Authorization": "Basic " + base64.b64encode(b"just-a-name").decode()}
    assert_empty(client.call("POST", "/session", {}, headers=no_colon), 401)


# POST /user


def test_create_user_answers_the_credentials(client):
    response = create_agent(client, "named-agent", "chosen-password", **{"agent-id": "node-7"})
    assert response.json() == {"user-name": "named-agent", "password": "chosen-password"}
    assert AgentUser.objects.get(name="named-agent").check_password("chosen-password")
    assert client.call("POST", "/session", {}, auth=("named-agent", "chosen-password")).status_code == 200


def test_create_user_generates_a_missing_name_and_password(client):
    body = client.call("POST", "/user", {}, auth=ADMIN).json()
    assert len(body["user-name"]) == 8
    assert len(body["password"]) == 15
    url_safe = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set(body["user-name"]) <= url_safe
    assert set(body["password"]) <= url_safe
    assert client.call("POST", "/session", {}, auth=(body["user-name"], body["password"])).status_code == 200
    named = client.call("POST", "/user", {"user-name": "only-a-name"}, auth=ADMIN).json()
    assert named["user-name"] == "only-a-name"
    assert len(named["password"]) == 15


def test_create_user_is_409_empty_when_the_name_exists(client):
    create_agent(client)
    assert_empty(
        client.call("POST", "/user", {"user-name": AGENT[0], "password": "other-pass"}, auth=ADMIN), 409
    )


def test_create_user_is_401_empty_on_bad_admin_credentials(client):
    for admin in BAD_ADMINS:
        body = {"user-name": "x-agent", "password": "x-password"}
        assert_empty(client.call("POST", "/user", body, auth=admin), 401)
    assert not AgentUser.objects.filter(name="x-agent").exists()


BAD_USER_BODIES = [
    ({"user-name": "short-pass", "password": "1234567"}, "password: Ensure this field has at least 8"),
    ({"user-name": "", "password": "long-enough"}, "user-name: This field may not be blank."),
    (
        {"user-name": "n" * 151, "password": "long-enough"},
        "user-name: Ensure this field has no more than 150",
    ),
    ({"user-name": 42, "password": "long-enough"}, "user-name: Not a valid string."),
    (["user-name", "password"], "body: must be an object"),
    ("a string", "body: must be an object"),
]


def test_create_user_is_422_with_a_reason_for_a_bad_body(client):
    for body, reason in BAD_USER_BODIES:
        response = client.call("POST", "/user", body, auth=ADMIN)
        assert response.status_code == 422, body
        assert response.json()["error"] == "invalid_request"
        assert response.json()["detail"].startswith(reason), response.json()
    assert AgentUser.objects.count() == 0


def test_a_name_of_150_characters_is_fine(client):
    create_agent(client, "n" * 150, "long-enough")
    assert_empty(client.call("DELETE", "/user/" + "n" * 150, auth=ADMIN), 204)


# GET /user


def test_list_users(client):
    create_agent(client, "agent-b", "password-b")
    create_agent(client, "agent-a", "password-a")
    client.call("PATCH", "/user/agent-b", {"active": False}, auth=ADMIN)
    response = client.call("GET", "/user", auth=ADMIN)
    assert response.status_code == 200
    listed = response.json()
    assert [(item["user"], item["active"]) for item in listed] == [("agent-a", True), ("agent-b", False)]
    for item in listed:
        stored = AgentUser.objects.get(name=item["user"]).created_at
        assert item["created_at"] == stored.isoformat().replace("+00:00", "Z")


def test_list_users_is_401(client):
    for admin in BAD_ADMINS:
        assert_empty(client.call("GET", "/user", auth=admin), 401)


# DELETE /user/<name>


def test_delete_user(client):
    create_agent(client)
    assert_empty(client.call("DELETE", f"/user/{AGENT[0]}", auth=ADMIN), 204)
    assert not AgentUser.objects.exists()
    assert_empty(client.call("DELETE", f"/user/{AGENT[0]}", auth=ADMIN), 404)
    assert_empty(client.call("DELETE", f"/user/{AGENT[0]}", auth=("plain-user", "plain-password")), 401)


# PATCH /user/<name>


def test_set_active(client):
    create_agent(client)
    assert_empty(client.call("PATCH", f"/user/{AGENT[0]}", {"active": False}, auth=ADMIN), 204)
    assert not AgentUser.objects.get().is_active
    assert_empty(client.call("PATCH", f"/user/{AGENT[0]}", {"active": True}, auth=ADMIN), 204)
    assert AgentUser.objects.get().is_active
    assert client.call("POST", "/session", {}, auth=AGENT).status_code == 200


def test_set_active_is_422_when_active_is_not_a_boolean(client):
    create_agent(client)
    for body in [{"active": "false"}, {"active": 0}, {"active": None}, {}, [True]]:
        response = client.call("PATCH", f"/user/{AGENT[0]}", body, auth=ADMIN)
        assert response.status_code == 422, body
        assert response.json()["error"] == "invalid_request"
    assert AgentUser.objects.get().is_active
    assert_empty(client.call("PATCH", "/user/nobody", {"active": True}, auth=ADMIN), 404)
    assert_empty(client.call("PATCH", "/user/nobody", {"active": True}, auth=(ADMIN[0], "wrong-one")), 401)


# POST /blacklist/token


def test_ban_token(client):
    create_agent(client)
    token = client.session_token(*AGENT)
    other = client.session_token(*AGENT)
    assert_empty(client.call("POST", "/blacklist/token", {"token": token}, auth=ADMIN), 200)
    # now banned, so no longer currently valid; the other token of the same user still is
    assert_empty(client.call("POST", "/blacklist/token", {"token": token}, auth=ADMIN), 404)
    assert_empty(client.call("POST", "/blacklist/token", {"token": other}, auth=ADMIN), 200)


def test_ban_token_is_404_when_the_field_is_missing_or_the_token_is_not_valid(client):
    for body in [{}, {"token": "not-a-jwt"}, {"token": 17}, {"tok": "x"}]:
        assert_empty(client.call("POST", "/blacklist/token", body, auth=ADMIN), 404)
    create_agent(client)
    forged = jwt.encode(
        {"sub": AGENT[0], "iat": 1, "nbf": 1, "exp": 4_000_000_000, "jti": "x", "iss": "poa_backend"},
        "not-the-server-secret-but-long-enough-for-hs256",
    )
    assert_empty(client.call("POST", "/blacklist/token", {"token": forged}, auth=ADMIN), 404)

    token = client.session_token(*AGENT)
    assert_empty(client.call("POST", "/blacklist/token", {"token": token}, auth=AGENT), 401)
    assert_empty(client.call("POST", "/blacklist/token", {"token": token}, auth=ADMIN), 200)


# POST /blacklist/user


def test_ban_user(client):
    create_agent(client)
    token = client.session_token(*AGENT)
    assert_empty(client.call("POST", "/blacklist/user", {"user": AGENT[0]}, auth=ADMIN), 200)
    assert not AgentUser.objects.get().is_active
    assert_empty(client.call("POST", "/blacklist/token", {"token": token}, auth=ADMIN), 404)
    assert_empty(client.call("POST", "/session", {}, auth=AGENT), 401)


def test_ban_user_is_404_when_the_field_is_missing_or_the_user_unknown_and_401_for_bad_admin(client):
    create_agent(client)
    for body in [{}, {"user": "nobody"}, {"user": 5}, {"name": AGENT[0]}]:
        assert_empty(client.call("POST", "/blacklist/user", body, auth=ADMIN), 404)
    assert_empty(
        client.call("POST", "/blacklist/user", {"user": AGENT[0]}, auth=("nobody", "x-password")), 401
    )
    assert AgentUser.objects.get().is_active


# any other path, method or content type


OTHER_CALLS = [
    ("POST", "/nothing"),
    ("GET", "/session"),
    ("PUT", "/user"),
    ("GET", "/user/agent-1"),
    ("POST", "/user/agent-1"),
    ("GET", "/blacklist/token"),
    ("POST", "/blacklist"),
    ("POST", "/session/"),
    ("OPTIONS", "/session"),
    ("DELETE", "/user"),
]


def test_anything_else_is_404_empty(client):
    for method, path in OTHER_CALLS:
        response = client.call(method, path, {}, auth=ADMIN)
        assert (response.status_code, response.content) == (404, b""), (method, path)


def test_other_content_types_are_415(client):
    for path in ["/session", "/user", "/blacklist/token", "/blacklist/user", "/user/agent-1"]:
        for content_type in [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]:
            method = "PATCH" if path == "/user/agent-1" else "POST"
            response = client.call(method, path, b'{"user": "x"}', auth=ADMIN, content_type=content_type)
            if content_type is None:  # requests sends no Content-Type for raw bytes
                assert "Content-Type" not in response.request.headers
            assert (response.status_code, response.content) == (415, b""), (path, content_type)


def test_a_body_that_does_not_decode_is_400_with_a_reason(client):
    content_type = CONTENT_TYPES[client.encoding]
    response = client.call("POST", "/user", b"\xc1\xc1{", auth=ADMIN, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"
