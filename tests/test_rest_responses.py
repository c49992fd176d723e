"""Every row of the REST handler's response table, over real sockets, in JSON and MessagePack."""

import http.client
import json
import time
from urllib.parse import urlsplit

import jwt
import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from handlers.auth.tokens import issue_token
from handlers.models import AgentUser, BannedToken
from tests.agent_client import CONTENT_TYPES, Reply, call, create_agent_user, encode, request, sample
from tests.live import free_port, read_events, wait_until

ENCODINGS = ["json", "msgpack"]
KINDS = [
    "information",
    "block",
    "history",
    "pending",
    "statistics",
    "statistics_syncing",
    "latency",
    "system_statistics",
]
PATHS = ["/ping", "/data", "/bye"]


@pytest.fixture
def events(recording_path):
    """The recording receiver's events so far (read afresh on each call)."""
    return lambda: read_events(recording_path)


@pytest.fixture
def rest(live_backend, events):
    return live_backend().url("rest")


@pytest.fixture
def token(live_db):
    create_agent_user("agent-user", "secret-password")
    return issue_token("agent-user")


def valid_body(path):
    return sample("statistics") if path == "/data" else {"id": "validator-node-7"}



def assert_empty(reply, status):
    assert (reply.status, reply.body) == (status, b""), reply
    assert "content-type" not in reply.headers


def assert_success(reply):
    assert reply.status == 200, reply
    assert reply.body == b'{"result":"success"}'
    assert reply.headers["content-type"] == "application/json"
    # The lean stack agent calls are served through keeps the full stack's headers
    assert reply.headers["content-length"] == "20"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_success_hands_each_message_to_the_receivers_with_its_exact_data(rest, token, events, encoding):
    for kind in KINDS:
        assert_success(call(rest, "/data", sample(kind), encoding, token))
    assert_success(call(rest, "/ping", {"id": "validator-node-7", "extra": [1, 2]}, encoding, token))
    assert_success(call(rest, "/bye", {"id": "validator-node-7"}, encoding, token))

    assert wait_until(lambda: any(e["event"] == "inactive" for e in events()))
    got = [e["value"] for e in events() if e["event"] == "message"]
    assert got == [
        {
            "agent_id": "validator-node-7",
            "data_type": sample(kind)["type"],
            "message_type": "data",
            "data": sample(kind)["data"],
        }
        for kind in KINDS
    ]
    assert [e["value"] for e in events() if e["event"] == "inactive"] == ["validator-node-7"]


def test_content_type_must_be_json_or_msgpack_and_is_checked_first(rest, token):
    refused = [
        None,
        "",
        "text/plain",
        "application/x-msgpack",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/mixed; boundary=x",
        "application/json;x*",
        "application/json-patch+json",
        "application/json, application/msgpack",
        "application/json; charset=latin-1",
        "application/msgpack; version=2",
    ]
    for path in PATHS:
        body = encode(valid_body(path), "json")
        for content_type in refused:
            headers = {"Authorization": f"Bearer {token}"}
            if content_type is not None:
                headers["Content-Type"] = content_type
            assert_empty(request(rest, path, body, headers), 415)
        # 415 comes before decoding, the id and the token.
        assert_empty(request(rest, path, b"\xc1 not anything", {"Content-Type": "text/plain"}), 415)
        assert_empty(request(rest, path, b"", {}), 415)
        # Case and a utf-8 charset are tolerated (HTTP libraries add the charset).
        for content_type in ("Application/JSON", "application/json; charset=utf-8"):
            headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
            assert_success(request(rest, path, body, headers))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_missing_or_wrong_fields_are_422_and_the_id_is_checked_before_the_token(
    rest, token, events, encoding
):
    statistics = sample("statistics")
    without = {key: {k: v for k, v in statistics.items() if k != key} for key in statistics}
    id_cases = [{}, {"id": None}, {"id": 7}, {"id": ""}, {"id": ["a"]}, [1, 2], "id", 3]
    for path in PATHS:
        for body in id_cases:
            assert_empty(call(rest, path, body, encoding, token), 422)
            assert_empty(call(rest, path, body, encoding, None), 422)  # id before the token
            assert_empty(call(rest, path, body, encoding, "not-a-token"), 422)
    data_cases = [
        without["type"],
        without["data"],
        {**statistics, "type": "weather_metrics"},
        {**statistics, "type": None},
        {**statistics, "type": 3},
        {**statistics, "data": None},
        {**statistics, "data": [statistics["data"]]},
        {**statistics, "data": "statistics"},
    ]
    for body in data_cases:
        assert_empty(call(rest, "/data", body, encoding, token), 422)
        assert_empty(call(rest, "/data", body, encoding, None), 401)  # the token before the rest
    # An empty body is an empty object: no id.
    headers = {"Content-Type": CONTENT_TYPES[encoding], "Authorization": f"Bearer {token}"}
    assert_empty(request(rest, "/ping", b"", headers), 422)
    time.sleep(0.5)
    assert [e for e in events() if e["event"] == "message"] == []


def test_msgpack_values_without_a_json_form_are_422(rest, token):
    import msgpack

    for data in (
        {"type": "latency", "body": {"latency": b"\x00\x01"}},
        {"type": "latency", "body": {1: 2}},
        {"type": "latency", "body": {"latency": float("nan")}},
        {"type": "latency", "body": {"latency": msgpack.ExtType(5, b"xy")}},
    ):
        body = msgpack.packb({"id": "a", "type": "networking_metrics", "data": data}, use_bin_type=True)
        headers = {"Content-Type": "application/msgpack", "Authorization": f"Bearer {token}"}
        assert_empty(request(rest, "/data", body, headers), 422)


def test_undecodable_bodies_are_400_with_a_reason_before_the_token(rest, token):
    deep = b"[" * 200_000 + b"]" * 200_000
    cases = {
        "json": [b"{", b'{"id": "a",}', b"\xff\xfe\x00", b'{"id": NaN}', b"not json", deep],
        "msgpack": [b"\xc1", b"\x81\xa2id", b"\x81\xa2id\xa1a\x00", b"\xdd\xff\xff\xff\xff", b"\x91" * 5000],
    }
    for path in PATHS:
        for encoding, bodies in cases.items():
            for body in bodies:
                for auth in ({"Authorization": f"Bearer {token}"}, {}):
                    reply = request(rest, path, body, {"Content-Type": CONTENT_TYPES[encoding], **auth})
                    assert reply.status == 400, (path, encoding, body[:20], reply)
                    assert reply.json() == {"error": "malformed_body"}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_authorization_refusals_are_401_empty_and_expiry_says_so(rest, token, encoding):
    create_agent_user("to-disable", "pw")
    create_agent_user("to-delete", "pw")
    disabled, deleted, banned = issue_token("to-disable"), issue_token("to-delete"), issue_token("agent-user")
    AgentUser.objects.filter(name="to-disable").update(is_active=False)
    AgentUser.objects.filter(name="to-delete").delete()
    claims = jwt.decode(banned, options={"verify_signature": False})
    BannedToken.objects.create(
        jti=claims["jti"],
        user_name="agent-user",
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    forged = jwt.encode({**claims, "jti": "forged"}, "another-secret", algorithm="HS256")
    with override_settings(POA_BACKEND={**settings.POA_BACKEND, "JWT_LIFETIME": -60}):
        expired = issue_token("agent-user")

    for path in PATHS:
        body = encode(valid_body(path), encoding)
        content_type = {"Content-Type": CONTENT_TYPES[encoding]}
        for authorization in (
            None,
            "",
            "Bearer",
            "Bearer ",
            f"Basic {token}",
            f"Token {token}",
            "Bearer not.a.jwt",
            f"Bearer {token[:-4]}",
            f"Bearer {forged}",
            f"Bearer {banned}",
            f"Bearer {disabled}",
            f"Bearer {deleted}",
        ):
            headers = dict(content_type)
            if authorization is not None:
                headers["Authorization"] = authorization
            assert_empty(request(rest, path, body, headers), 401)
        reply = request(rest, path, body, {**content_type, "Authorization": f"Bearer {expired}"})
        assert reply.status == 401
        assert reply.body == b'{"error":"token_expired"}'
        assert reply.headers["content-type"] == "application/json"
        assert_success(request(rest, path, body, {**content_type, "Authorization": f"Bearer {token}"}))


def test_unknown_paths_are_404_and_other_methods_405_both_empty(rest, token):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    body = encode({"id": "a"}, "json")
    for path in ("/pong", "/ping/", "/data/x", "/session-x", "/PING", "/bye.json"):
        reply = request(rest, path, body, headers)
        assert (reply.status, reply.body) == (404, b""), path
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in PATHS:
            reply = request(rest, path, body if method != "GET" else b"", headers, method=method)
            assert (reply.status, reply.body) == (405, b""), (method, path)


def oversized_request(base_url, path, body, headers):
    """A POST whose answer may come before its body is sent: the server refuses by Content-Length."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            for start in range(0, len(body), 65536):
                connection.send(body[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the rest was sent
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bodies_over_the_size_limit_are_413(rest, token, events, encoding):
    limit = 1024 * 1024
    headers = {"Content-Type": CONTENT_TYPES[encoding], "Authorization": f"Bearer {token}"}

    def body_of_size(size):
        message = {**sample("latency"), "padding": ""}
        padding = size - len(encode(message, encoding))
        message["padding"] = "x" * (padding - (4 if encoding == "msgpack" else 0))
        body = encode(message, encoding)
        assert len(body) == size
        return body

    assert_success(request(rest, "/data", body_of_size(limit), headers))
    reply = oversized_request(rest, "/data", body_of_size(limit + 1), headers)
    assert reply.status == 413
    assert reply.json() == {"error": "body_too_large"}
    reply = oversized_request(rest, "/ping", b"x" * (3 * limit), headers)
    assert reply.status == 413
    assert wait_until(lambda: len([e for e in events() if e["event"] == "message"]) == 1)
    assert json.dumps([e["value"]["data"] for e in events()]) == json.dumps([sample("latency")["data"]])


def test_ping_and_bye_keep_answering_while_the_shared_presence_store_is_out_of_reach(
    live_backend, token, events
):
    # A Redis nobody listens on: presence keeps its deadlines in the process until Redis is back.
    backend = live_backend(env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    rest = backend.url("rest")
    for path in ("/ping", "/bye"):
        assert_success(call(rest, path, {"id": "validator-node-7"}, "json", token))
    assert_success(call(rest, "/data", sample("latency"), "msgpack", token))
    assert wait_until(lambda: [e for e in events() if e["event"] == "message"])
