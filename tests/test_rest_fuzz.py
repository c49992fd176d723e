"""Random bodies, encodings and headers to the three endpoints never get a 5xx.

Besides well-formed values, bodies carry what broke backends before: strings with lone
surrogates (as JSON escapes), ids of any length and control characters, and nesting
deep enough to exhaust a recursive decoder or encoder, in the id, the type or the data.
"""

import json
import string

import msgpack
import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from handlers.auth.tokens import issue_token
from receivers.models import Receiver
from tests.agent_client import CONTENT_TYPES, create_agent_user, request

PATHS = ["/ping", "/data", "/bye"]
# Headers that frame the message itself; sending them twice only tests Twisted's HTTP parser.
FRAMING = {"host", "content-length", "transfer-encoding", "connection", "expect", "upgrade"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary(max_size=20)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8)),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(max_size=8) | st.integers(-5, 5) | st.binary(max_size=4), children, max_size=5
        )
    ),
    max_leaves=30,
)


def call_shaped(values):
    """Bodies that look like agent calls, so the later checks (token, type, data) are reached too."""
    metric_types = st.sampled_from(["ethereum_metrics", "networking_metrics", "system_metrics"])
    return st.fixed_dictionaries(
        {"id": st.sampled_from(["node-1", "node-2"])},
        optional={
            "type": metric_types | metric_types | values,
            "data": st.fixed_dictionaries({"type": st.text(max_size=10), "body": values}) | values,
            "extra": values,
        },
    ) | st.fixed_dictionaries({}, optional={"id": values, "type": values, "data": values})


# Strings with lone surrogates: JSON carries them as escapes (json.dumps writes "\\ud800").
surrogates = st.characters(categories=["Cs"])
hostile_text = st.text(surrogates | st.characters(exclude_categories=[]), max_size=12) | st.builds(
    "{}{}{}".format, st.text(max_size=4), surrogates, st.text(max_size=4)
)
hostile_json_values = st.recursive(
    st.none() | st.integers() | hostile_text | st.text(alphabet=st.characters(max_codepoint=0x9F)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=20,
)
agent_ids = (
    hostile_text
    | st.text(st.characters(max_codepoint=0x9F), max_size=300)
    | st.integers(250, 260).map("n".__mul__)
)
WHERE = ["id", "type", "data", "body"]


def deep_json(depth: int, where: str) -> bytes:
    """A call with ``depth`` arrays inside each other in one of its fields, written as text
    (``json.dumps`` itself could not write the deepest)."""
    deep = "[" * depth + "0" + "]" * depth
    fields = {"id": '"node-1"', "type": '"ethereum_metrics"', "data": '{"type": "block", "body": {}}'}
    if where == "body":
        fields["data"] = '{"type": "block", "body": ' + deep + "}"
    else:
        fields[where] = deep
    return ("{" + ", ".join(f'"{key}": {value}' for key, value in fields.items()) + "}").encode()


def deep_msgpack(depth: int, where: str) -> bytes:
    """The same in MessagePack, written by hand past the packer's own depth limit."""
    deep = b"\x91" * depth + b"\x00"
    fields = {
        "id": msgpack.packb("node-1"),
        "type": msgpack.packb("ethereum_metrics"),
        "data": msgpack.packb({"type": "block", "body": {}}),
    }
    if where == "body":
        fields["data"] = (
            b"\x82" + msgpack.packb("type") + msgpack.packb("block") + msgpack.packb("body") + deep
        )
    else:
        fields[where] = deep
    return b"\x83" + b"".join(msgpack.packb(key) + value for key, value in fields.items())


depths = st.sampled_from([30, 31, 32, 33, 500, 511, 512, 513, 1000, 1023, 1024, 1025, 100_000]) | st.integers(
    1, 2000
)
hostile_bodies = st.one_of(
    hostile_json_values.map(lambda value: ("json", json.dumps(value).encode())),
    call_shaped(hostile_json_values).map(lambda value: ("json", json.dumps(value).encode())),
    st.builds(
        lambda agent, data: {"id": agent, "type": "ethereum_metrics", "data": data},
        agent_ids,
        hostile_json_values,
    ).map(lambda value: ("json", json.dumps(value).encode())),
    st.builds(deep_json, depths, st.sampled_from(WHERE)).map(lambda raw: ("json", raw)),
    st.builds(deep_msgpack, depths, st.sampled_from(WHERE)).map(lambda raw: ("msgpack", raw)),
)
bodies = st.one_of(
    hostile_bodies,
    hostile_bodies,
    st.binary(max_size=300).map(lambda raw: ("raw", raw)),
    json_values.map(lambda value: ("json", json.dumps(value).encode())),
    call_shaped(json_values).map(lambda value: ("json", json.dumps(value).encode())),
    msgpack_values.map(lambda value: ("msgpack", msgpack.packb(value, use_bin_type=True))),
    call_shaped(msgpack_values).map(lambda value: ("msgpack", msgpack.packb(value, use_bin_type=True))),
)
header_names = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=20).filter(
    lambda name: name.lower() not in FRAMING
)
header_values = st.text(string.printable.strip("\r\n\x0b\x0c") + " ", max_size=40).map(str.strip)
content_types = st.one_of(
    st.none(),
    st.just("matching"),
    st.just("matching"),
    st.just("matching"),
    st.sampled_from(["application/json", "application/msgpack", "application/json; charset=utf-8"]),
    header_values,
    st.builds("application/{}{}".format, st.sampled_from(["json", "msgpack"]), header_values),
)
authorizations = st.one_of(
    st.none(),
    st.just("valid"),
    st.just("valid"),
    st.just("expired"),
    header_values,
    header_values.map("Bearer {}".format),
)


@pytest.fixture
def server(live_backend):
    create_agent_user("fuzz-user", "secret-password")
    with override_settings(POA_BACKEND={**django_settings.POA_BACKEND, "JWT_LIFETIME": -60}):
        expired = issue_token("fuzz-user")
    return live_backend().url("rest"), {"valid": issue_token("fuzz-user"), "expired": expired}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(PATHS),
    body=bodies,
    content_type=content_types,
    authorization=authorizations,
    extra=st.dictionaries(header_names, header_values, max_size=4),
)
def test_no_input_gets_a_server_error(server, path, body, content_type, authorization, extra):
    url, tokens = server
    encoding, raw = body
    headers = dict(extra)
    if content_type == "matching":
        headers["Content-Type"] = CONTENT_TYPES.get(encoding, "application/json")
    elif content_type is not None:
        headers["Content-Type"] = content_type
    if authorization in tokens:
        headers["Authorization"] = f"Bearer {tokens[authorization]}"
    elif authorization is not None:
        headers["Authorization"] = authorization
    reply = request(url, path, raw, headers)
    event(f"status {reply.status}")
    assert reply.status < 500, (path, encoding, raw[:80], headers, reply)
    if reply.status == 200:
        assert reply.body == b'{"result":"success"}'
        assert receivers_can_encode(encoding, raw, path), (path, raw[:200])


def receivers_can_encode(encoding: str, raw: bytes, path: str) -> bool:
    """Whether what an accepted call hands on encodes as strict JSON in UTF-8, as the dashboard
    feed and storage write them (a lone surrogate or runaway nesting cannot): the id, and on
    ``/data`` the data (``/ping`` and ``/bye`` ignore every other field, as the contract says)."""
    try:
        call = (
            json.loads(raw) if encoding == "json" else msgpack.unpackb(raw, raw=False, strict_map_key=False)
        )
        handed_on = [call.get("id"), call.get("data")] if path == "/data" else [call.get("id")]
        encoded = json.dumps(handed_on, ensure_ascii=False, allow_nan=False)
        encoded.encode("utf-8")
    except (ValueError, RecursionError, TypeError, AttributeError):
        return False
    return True


def test_a_dashboard_connected_before_the_fuzz_still_gets_valid_frames_after(live_backend):
    """Whatever the fuzz got accepted, the feed goes on: a dashboard connected before it gets
    only frames that decode, and still gets a valid frame sent after it."""
    create_agent_user("fuzz-user", "secret-password")
    token = issue_token("fuzz-user")
    backend = live_backend()
    rest = backend.url("rest")
    secret = Receiver.objects.get(name="dashboard").options["secret"]
    feed = f"ws://127.0.0.1:{backend.ports['dashboard']}/ws"

    with connect(feed, additional_headers={"wssecret": secret}, open_timeout=10, max_size=None) as dashboard:

        @settings(max_examples=150, deadline=None)
        @given(path=st.sampled_from(PATHS), body=bodies)
        def fuzz(path, body):
            encoding, raw = body
            headers = {"Content-Type": CONTENT_TYPES.get(encoding, "application/json")}
            reply = request(rest, path, raw, {**headers, "Authorization": f"Bearer {token}"})
            assert reply.status < 500, (path, encoding, raw[:80], reply)

        fuzz()
        after = {
            "id": "after-the-fuzz",
            "type": "networking_metrics",
            "data": {"type": "latency", "body": {}},
        }
        assert (
            request(
                rest,
                "/data",
                json.dumps(after).encode(),
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            ).status
            == 200
        )
        while True:
            frame = json.loads(dashboard.recv(timeout=10))  # every frame decodes, none is lost
            if frame["agent_id"] == "after-the-fuzz":
                break
        assert frame == {"agent_id": "after-the-fuzz", "data": after["data"]}
