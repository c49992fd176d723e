"""The core intake's rules on every agent-facing listener, over real sockets.

Strings are Unicode scalar values (no lone surrogates), agent ids are 1 to 256
characters without control characters, nesting is bounded before a decoder can fail,
and every decode failure is a 4xx: on the REST calls, the agent socket and the auth
endpoints alike. The walk over ``data`` waits for a valid token.
"""

import json

import msgpack
import pytest
from django.contrib.auth.models import User

from handlers.auth.tokens import issue_token
from tests.agent_client import CONTENT_TYPES, call, create_agent_user, request, sample
from tests.auth_client import NO_BODY, AuthClient
from tests.live import read_events, wait_until
from tests.test_websocket_agent import answer, open_socket, socket_url_of

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

PATHS = ["/ping", "/data", "/bye"]
LONE_SURROGATE = "\ud800"
#: Agent ids the intake refuses, with why.
BAD_IDS = {
    "a lone surrogate": f"node-{LONE_SURROGATE}",
    "a low surrogate alone": "\udfff",
    "257 characters": "n" * 257,
    "a newline": "node\n1",
    "a NUL": "node\x001",
    "a DEL": "node\x7f",
    "a C1 control": "node\x851",
}
GOOD_IDS = ["n" * 256, "validator-node-7", "nœud-été", "enode://ab@10.0.0.1:30303", "名前 with spaces"]


def nested(depth: int, leaf=0):
    """``depth`` arrays inside each other around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def msgpack_nested(depth: int) -> bytes:
    """``nested(depth)`` in MessagePack, past the depth its packer would write."""
    return b"\x91" * depth + b"\x00"


def msgpack_map(fields: dict, **raw: bytes) -> bytes:
    """A MessagePack map of ``fields`` and of ``raw`` values given already encoded."""
    items = [msgpack.packb(key) + msgpack.packb(value, use_bin_type=True) for key, value in fields.items()]
    items += [msgpack.packb(key) + value for key, value in raw.items()]
    return bytes([0x80 | len(items)]) + b"".join(items)


def deep_data_call(depth: int, **fields) -> bytes:
    """A MessagePack data call whose ``data`` holds ``depth`` arrays inside each other."""
    data = msgpack_map({}, deep=msgpack_nested(depth))
    return msgpack_map({"id": "validator-node-7", "type": "networking_metrics", **fields}, data=data)


def utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_body(value) -> bytes:
    """JSON as an agent's encoder writes it: a lone surrogate becomes a ``\\ud800`` escape."""
    return json.dumps(value).encode()


@pytest.fixture
def events(recording_path):
    return lambda: read_events(recording_path)


@pytest.fixture
def backend(live_backend, events):
    return live_backend()


@pytest.fixture
def token(live_db):
    create_agent_user("agent-user", "secret-password")
    return issue_token("agent-user")


def messages(events):
    return [event["value"] for event in events() if event["event"] == "message"]


def post(rest, path, body: bytes, encoding="json", token=None):
    headers = {"Content-Type": CONTENT_TYPES[encoding]}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return request(rest, path, body, headers)


def data_call(data, agent="validator-node-7"):
    return {"id": agent, "type": "networking_metrics", "data": data}


def test_rest_refuses_bad_ids_and_non_unicode_data_with_an_empty_422(backend, token, events):
    rest = backend.url("rest")
    for why, agent in BAD_IDS.items():
        for path in PATHS:
            body = data_call(sample("latency")["data"], agent) if path == "/data" else {"id": agent}
            for with_token in (token, None):  # the id is checked before the token
                reply = post(rest, path, json_body(body), token=with_token)
                assert (reply.status, reply.body) == (422, b""), (why, path, reply)
            if utf8_encodable(agent):  # MessagePack cannot carry a lone surrogate at all
                reply = call(rest, path, body, "msgpack", token)
                assert (reply.status, reply.body) == (422, b""), (why, path, reply)
    bad_data = [
        {"type": "latency", "body": {"latency": LONE_SURROGATE}},
        {"type": "latency", "body": {LONE_SURROGATE: 1}},
        {"type": LONE_SURROGATE, "body": {}},
        {"type": "latency", "body": [["deeper", f"x{LONE_SURROGATE}y"]]},
    ]
    for data in bad_data:
        reply = post(rest, "/data", json_body(data_call(data)), token=token)
        assert (reply.status, reply.body) == (422, b""), (data, reply)
    for agent in GOOD_IDS:
        assert call(rest, "/data", data_call({"n": agent}, agent), "json", token).status == 200, agent
    assert wait_until(lambda: len(messages(events)) == len(GOOD_IDS))
    assert [m["agent_id"] for m in messages(events)] == GOOD_IDS


def test_rest_refuses_data_nested_past_max_nesting_and_decodes_nothing_too_deep(backend, token, events):
    rest = backend.url("rest")
    # data itself is level 1: 31 arrays inside it is the deepest accepted by default
    assert call(rest, "/data", data_call({"deep": nested(31)}), "json", token).status == 200
    assert post(rest, "/data", deep_data_call(31), "msgpack", token).status == 200
    for depth in (32, 400):
        reply = call(rest, "/data", data_call({"deep": nested(depth)}), "json", token)
        assert (reply.status, reply.body) == (422, b""), ("json", depth, reply)
    for depth in (32, 400, 1000):
        reply = post(rest, "/data", deep_data_call(depth), "msgpack", token)
        assert (reply.status, reply.body) == (422, b""), ("msgpack", depth, reply)
    deep_json = b'{"id": "a", "type": "networking_metrics", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for path in PATHS:
        reply = post(rest, path, deep_json, token=token)
        assert (reply.status, reply.json()) == (400, {"error": "malformed_body"}), path
    assert wait_until(lambda: len(messages(events)) == 2)


def test_rest_leaves_the_data_walk_until_the_token_is_valid(backend, token):
    """The data rules come after the token, as the contract orders them: without a valid
    token, a body whose id is good is a 401 whatever its data holds, and its data is never walked."""
    rest = backend.url("rest")
    refused_data = [
        msgpack.packb(data_call({"raw": b"\x00" * 500_000}), use_bin_type=True),
        deep_data_call(1000),
        json_body(data_call({"s": LONE_SURROGATE})),
    ]
    for body in refused_data:
        encoding = "json" if body.startswith(b"{") else "msgpack"
        for authorization in (None, "not-a-token"):
            reply = post(rest, "/data", body, encoding, authorization)
            assert (reply.status, reply.body) == (401, b""), (body[:40], reply)
        assert post(rest, "/data", body, encoding, token).status == 422, body[:40]


def socket_exchange(ws, frame, encoding):
    if isinstance(frame, (bytes, str)):
        ws.send(frame)
    else:
        ws.send(json.dumps(frame) if encoding == "json" else msgpack.packb(frame, use_bin_type=True))
    return answer(ws, encoding)


def test_the_agent_socket_answers_the_same_rules_with_its_payloads(backend, token, events):
    bad_text_frames = [
        (json.dumps({"call": "ping", "id": LONE_SURROGATE, "ref": 1}), "invalid_id"),
        (json.dumps({"call": "bye", "id": "n" * 257, "ref": 1}), "invalid_id"),
        (json.dumps({"call": "ping", "id": "a\nb", "ref": 1}), "invalid_id"),
        (json.dumps({"call": "data", **data_call({"s": LONE_SURROGATE}), "ref": 1}), "data_not_json"),
        (json.dumps({"call": "data", **data_call({"deep": nested(40)}), "ref": 1}), "data_too_deep"),
    ]
    bad_binary_frames = [
        (msgpack.packb({"call": "ping", "id": "\x00", "ref": 1}), "invalid_id"),
        (deep_data_call(1000, call="data", ref=1), "data_too_deep"),
    ]
    with open_socket(socket_url_of(backend), token) as ws:
        for encoding, frames in (("json", bad_text_frames), ("msgpack", bad_binary_frames)):
            for frame, payload in frames:
                got = socket_exchange(ws, frame, encoding)
                assert got == {"result": "error", "payload": payload, "ref": 1}, frame[:60]
        # The JSON decoder's bound, and a ref that could not be echoed back.
        deep = '{"call": "ping", "id": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
        assert socket_exchange(ws, deep, "json") == {"result": "error", "payload": "malformed_frame"}
        for encoding in ("json", "msgpack"):
            for ref in (LONE_SURROGATE, nested(40)):
                if encoding == "msgpack" and ref == LONE_SURROGATE:
                    ref = b"binary"
                got = socket_exchange(ws, {"call": "ping", "id": "a", "ref": ref}, encoding)
                assert got == {"result": "error", "payload": "invalid_ref"}, (encoding, ref)
        # ping and bye ignore data, as REST does.
        assert socket_exchange(ws, {"call": "ping", "id": "a", "data": {"b": b"\x00"}}, "msgpack") == {
            "result": "success"
        }
        good = {"call": "data", **data_call({"ok": "nœud"}, "n" * 256)}
        assert socket_exchange(ws, good, "json") == {"result": "success"}
    assert wait_until(lambda: messages(events))
    assert [m["agent_id"] for m in messages(events)] == ["n" * 256]


ADMIN = ("operator", "operator-password")
AGENT = ("agent-1", "agent-password")


@pytest.fixture
def auth(live_backend):
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True)
    create_agent_user(*AGENT)
    create_agent_user("to-patch", "to-patch-password")
    return AuthClient(live_backend().url("auth"))


AUTH_CALLS = [
    ("POST", "/session", AGENT, "agent-id"),
    ("POST", "/user", ADMIN, "user-name"),
    ("PATCH", "/user/to-patch", ADMIN, "active"),
    ("POST", "/blacklist/token", ADMIN, "token"),
    ("POST", "/blacklist/user", ADMIN, "user"),
]


def test_every_auth_endpoint_answers_deep_or_non_unicode_bodies_with_a_4xx(auth):
    deep = b"[" * 100_000 + b"]" * 100_000
    for method, path, credentials, field in AUTH_CALLS:
        for body in (deep, b'{"%s": %s}' % (field.encode(), deep)):
            reply = auth.call(method, path, body, auth=credentials, content_type=CONTENT_TYPES["json"])
            assert reply.status_code == 400, (path, reply.status_code, reply.content[:200])
            assert reply.json()["error"] == "parse_error"
        for encoding, body in (
            ("json", json_body({field: LONE_SURROGATE})),
            ("json", json_body({field: nested(400)})),
            ("msgpack", msgpack_map({}, **{field: msgpack_nested(1000)})),
        ):
            reply = auth.call(method, path, body, auth=credentials, content_type=CONTENT_TYPES[encoding])
            assert reply.status_code == 422, (path, encoding, reply.status_code, reply.content[:200])
            assert reply.json()["error"] == "invalid_request"
    # The session's agent id follows the agents' rules; the agents' own one still works.
    for agent in ("n" * 257, "a\x00b"):
        reply = auth.call("POST", "/session", {"agent-id": agent}, auth=AGENT)
        assert reply.status_code == 422, agent
    assert auth.call("POST", "/session", {"agent-id": "n" * 256}, auth=AGENT).status_code == 200
    assert auth.call("POST", "/session", {"agent-id": ""}, auth=AGENT).status_code == 200
    assert auth.call("PATCH", "/user/to-patch", {"active": False}, auth=ADMIN).status_code == 204
    # A name no row can hold (PostgreSQL refuses a NUL in a query) is an unknown user.
    for method, path, body in (
        ("DELETE", "/user/to%00patch", NO_BODY),
        ("PATCH", "/user/to%00patch", {"active": True}),
        ("POST", "/blacklist/user", {"user": "to\x00patch"}),
    ):
        assert auth.call(method, path, body, auth=ADMIN).status_code == 404, (method, path)
