"""The agent socket end to end: a real WebSocket client against the running server.

Handshake with good, missing, bad and expired tokens; calls in JSON (text frames)
and MessagePack (binary frames); an error answer for every kind of bad frame with
the socket left open; a pipelined burst answered and delivered in order; presence
when a socket closes without bye; the close at the token's expiry.
"""

import contextlib
import json
import socket
import sqlite3
import time

import jwt
import msgpack
import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from handlers.auth.tokens import issue_token
from handlers.models import AgentUser, BannedToken, CustomHandler
from handlers.websocket.consumer import MAX_UNANSWERED
from tests.agent_client import create_agent_user, sample
from tests.live import free_port, read_events, wait_until

pytestmark = pytest.mark.usefixtures("live_db")

ENCODINGS = ["json", "msgpack"]
SAMPLES = ["information", "block", "history", "pending", "statistics", "latency", "system_statistics"]


@pytest.fixture
def events(recording_path):
    """The recording receiver's events so far (read afresh on each call)."""
    return lambda: read_events(recording_path)


@pytest.fixture
def token(live_db):
    create_agent_user("agent-user", "secret-password")
    return issue_token("agent-user")


@pytest.fixture
def socket_url(live_backend, events):
    return socket_url_of(live_backend())


def socket_url_of(backend) -> str:
    return backend.url("agent_socket").replace("http://", "ws://") + "/agent"


def open_socket(url, token):
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10)


def send(ws, value, encoding):
    ws.send(json.dumps(value) if encoding == "json" else msgpack.packb(value, use_bin_type=True))


def answer(ws, encoding):
    """The next answer, checked to be in the call's encoding (text for JSON, binary for MessagePack)."""
    frame = ws.recv(timeout=10)
    if encoding == "json":
        assert isinstance(frame, str), frame
        return json.loads(frame)
    assert isinstance(frame, bytes), frame
    return msgpack.unpackb(frame, raw=False)


def call(ws, value, encoding="json"):
    send(ws, value, encoding)
    return answer(ws, encoding)


def messages(events):
    return [event["value"] for event in events() if event["event"] == "message"]


def inactive(events):
    return [event["value"] for event in events() if event["event"] == "inactive"]


@contextlib.contextmanager
def storage_spool_held(backend):
    """The storage receiver's spool file held by another connection, as a stalled disk or an
    operator's shell would: its messages cannot be written until ``release()``."""
    spool_file = backend.data_dir / "spool" / "slot-1" / "ethereum_statistics.sqlite3"
    assert wait_until(spool_file.exists)
    holder = sqlite3.connect(spool_file, isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield lambda: holder.execute("ROLLBACK")
    finally:
        holder.close()


def refusal(url, headers):
    with pytest.raises(InvalidStatus) as info:
        connect(url, additional_headers=headers, open_timeout=10)
    return info.value.response


def test_the_handshake_wants_a_valid_bearer_token_and_refuses_with_401(socket_url, token):
    create_agent_user("to-disable", "pw")
    disabled = issue_token("to-disable")
    AgentUser.objects.filter(name="to-disable").update(is_active=False)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "jti": "forged"}, "another-secret", algorithm="HS256")
    with override_settings(POA_BACKEND={**settings.POA_BACKEND, "JWT_LIFETIME": -60}):
        expired = issue_token("agent-user")

    for authorization in (
        None,
        "",
        "Bearer",
        f"Basic {token}",
        "Bearer not.a.jwt",
        f"Bearer {token[:-4]}",
        f"Bearer {forged}",
        f"Bearer {disabled}",
    ):
        headers = {} if authorization is None else {"Authorization": authorization}
        response = refusal(socket_url, headers)
        assert (response.status_code, bytes(response.body)) == (401, b""), authorization
        assert "content-type" not in response.headers

    response = refusal(socket_url, {"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert bytes(response.body) == b'{"error":"token_expired"}'
    assert response.headers["content-type"] == "application/json"

    with open_socket(socket_url, token) as ws:
        assert call(ws, {"call": "ping", "id": "node-1"}) == {"result": "success"}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ping_data_and_bye_are_answered_in_kind_and_reach_the_receivers(socket_url, token, events, encoding):
    bodies = [sample(name) for name in SAMPLES]
    agent = bodies[0]["id"]
    with open_socket(socket_url, token) as ws:
        assert call(ws, {"call": "ping", "id": agent}, encoding) == {"result": "success"}
        for n, body in enumerate(bodies):
            assert call(ws, {"call": "data", **body, "ref": n}, encoding) == {"result": "success", "ref": n}
        assert call(ws, {"call": "bye", "id": agent, "ref": "bye-1"}, encoding) == {
            "result": "success",
            "ref": "bye-1",
        }
        assert wait_until(lambda: inactive(events) == [agent])
        assert messages(events) == [
            {"agent_id": agent, "data_type": body["type"], "message_type": "data", "data": body["data"]}
            for body in bodies
        ]
    time.sleep(0.5)
    assert inactive(events) == [agent]  # bye said it; closing the socket does not say it again


BAD_JSON_FRAMES = [
    ("{not json", "malformed_frame"),
    ('{"call": "ping", "id": NaN}', "malformed_frame"),
    ("", "malformed_frame"),
    ("[1, 2]", "not_an_object"),
    ('"ping"', "not_an_object"),
    ("{}", "unknown_call"),
    ('{"call": "jump", "id": "a"}', "unknown_call"),
    ('{"call": ["ping"], "id": "a"}', "unknown_call"),
]
BAD_MSGPACK_FRAMES = [
    (b"\xc1", "malformed_frame"),
    (b"\x82\xa4call", "malformed_frame"),
    (msgpack.packb([1, 2]), "not_an_object"),
    (msgpack.packb({"call": "jump", "id": "a"}), "unknown_call"),
    (
        msgpack.packb({"call": "data", "id": "a", "type": "system_metrics", "data": {"raw": b"\x00"}}),
        "data_not_json",
    ),
    (msgpack.packb({"call": "data", "id": "a", "type": "system_metrics", "data": {1: "x"}}), "data_not_json"),
]
# The same rules as the REST handler's 422s, in both encodings.
BAD_CALLS = [
    ({"call": "ping"}, "invalid_id"),
    ({"call": "ping", "id": ""}, "invalid_id"),
    ({"call": "bye", "id": 7}, "invalid_id"),
    ({"call": "data", "type": "system_metrics", "data": {}}, "invalid_id"),
    ({"call": "data", "id": "a", "data": {}}, "unknown_type"),
    ({"call": "data", "id": "a", "type": "no_such_metrics", "data": {}}, "unknown_type"),
    ({"call": "data", "id": "a", "type": ["system_metrics"], "data": {}}, "unknown_type"),
    ({"call": "data", "id": "a", "type": "system_metrics"}, "data_not_an_object"),
    ({"call": "data", "id": "a", "type": "system_metrics", "data": [1]}, "data_not_an_object"),
    ({"call": "data", "id": "a", "type": "system_metrics", "data": "x"}, "data_not_an_object"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_bad_frame_gets_an_error_answer_and_the_socket_stays_open(socket_url, token, events, encoding):
    raw = BAD_JSON_FRAMES if encoding == "json" else BAD_MSGPACK_FRAMES
    with open_socket(socket_url, token) as ws:
        for frame, reason in raw:
            ws.send(frame)
            assert answer(ws, encoding) == {"result": "error", "payload": reason}, frame
        for n, (frame, reason) in enumerate(BAD_CALLS):
            assert call(ws, frame, encoding) == {"result": "error", "payload": reason}, frame
            # A call that gives a ref gets it back, on errors too.
            assert call(ws, {**frame, "ref": [n, "x"]}, encoding) == {
                "result": "error",
                "payload": reason,
                "ref": [n, "x"],
            }
        assert call(ws, {"call": "jump", "ref": None}, encoding) == {
            "result": "error",
            "payload": "unknown_call",
            "ref": None,
        }
        body = sample("system_statistics")
        assert call(ws, {"call": "data", **body}, encoding) == {"result": "success"}
    assert wait_until(lambda: len(messages(events)) == 1)
    time.sleep(0.3)
    assert [m["data"] for m in messages(events)] == [body["data"]]  # refused calls reached no one


def test_a_pipelined_burst_is_answered_and_delivered_in_order(socket_url, token, events):
    count = 1000
    encodings = ["json", "msgpack"]  # alternating on one socket: order holds across encodings
    with open_socket(socket_url, token) as ws:
        for n in range(count):
            frame = {
                "call": "data",
                "id": "burst-node",
                "type": "ethereum_metrics",
                "data": {"type": "pending", "body": {"pending": n}},
                "ref": n,
            }
            send(ws, frame, encodings[n % 2])
        answers = [answer(ws, encodings[n % 2]) for n in range(count)]
    assert answers == [{"result": "success", "ref": n} for n in range(count)]
    assert wait_until(lambda: len(messages(events)) == count, timeout=20)
    assert [m["data"]["body"]["pending"] for m in messages(events)] == list(range(count))


def test_calls_are_read_while_a_durable_write_waits_and_answered_in_call_order(live_backend, token, events):
    backend = live_backend()
    with storage_spool_held(backend) as release, open_socket(socket_url_of(backend), token) as ws:
        statistics = {**sample("statistics"), "call": "data", "id": "held-node", "ref": 1}
        pending = {**sample("pending"), "call": "data", "id": "held-node", "ref": 2}
        send(ws, statistics, "json")
        send(ws, pending, "json")
        # The second call is dispatched while the first one's message waits for the disk ...
        assert wait_until(lambda: len(messages(events)) == 2)
        # ... and neither is answered: the first is not on disk, the second comes after it.
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
        release()
        assert [answer(ws, "json"), answer(ws, "json")] == [
            {"result": "success", "ref": 1},
            {"result": "success", "ref": 2},
        ]
    assert [m["data"]["type"] for m in messages(events)] == ["statistics", "pending"]


def test_a_bye_waits_for_the_agents_earlier_messages_to_be_written(live_backend, token, events):
    backend = live_backend()
    with storage_spool_held(backend) as release, open_socket(socket_url_of(backend), token) as ws:
        assert call(ws, {"call": "ping", "id": "leaving-node"}) == {"result": "success"}
        send(ws, {**sample("statistics"), "call": "data", "id": "leaving-node", "ref": 1}, "json")
        send(ws, {"call": "bye", "id": "leaving-node", "ref": 2}, "json")
        assert wait_until(lambda: len(messages(events)) == 1)
        time.sleep(0.5)  # the statistics message is not written: the agent is not inactive yet
        assert inactive(events) == []
        with open_socket(socket_url_of(backend), token) as other:  # and the server goes on
            assert call(other, {"call": "ping", "id": "another-node"}) == {"result": "success"}
        release()
        assert [answer(ws, "json"), answer(ws, "json")] == [
            {"result": "success", "ref": 1},
            {"result": "success", "ref": 2},
        ]
    assert wait_until(lambda: "leaving-node" in inactive(events))


def test_a_bye_is_answered_while_another_sockets_message_waits_for_the_disk(live_backend, token, events):
    backend = live_backend()
    url = socket_url_of(backend)
    with storage_spool_held(backend) as release:
        with open_socket(url, token) as waiting, open_socket(url, token) as leaving:
            send(waiting, {**sample("statistics"), "call": "data", "id": "waiting-node", "ref": 1}, "json")
            assert wait_until(lambda: len(messages(events)) == 1)
            assert call(leaving, {"call": "ping", "id": "leaving-node"}) == {"result": "success"}
            # Its inactive event goes to the same spool, behind the waiting message, and the
            # server does not wait for that write to answer.
            assert call(leaving, {"call": "bye", "id": "leaving-node"}) == {"result": "success"}
            release()
            assert answer(waiting, "json") == {"result": "success", "ref": 1}
    assert wait_until(lambda: "leaving-node" in inactive(events))


def test_a_socket_stops_being_read_while_too_many_of_its_calls_wait_for_the_disk(live_backend, token, events):
    backend = live_backend()
    count = 2 * MAX_UNANSWERED
    with storage_spool_held(backend) as release, open_socket(socket_url_of(backend), token) as ws:
        for n in range(count):
            send(ws, {**sample("statistics"), "call": "data", "id": "flood-node", "ref": n}, "json")
        assert wait_until(lambda: len(messages(events)) == MAX_UNANSWERED)
        time.sleep(0.5)  # nothing more is read while they wait
        assert len(messages(events)) == MAX_UNANSWERED
        release()
        answers = [answer(ws, "json") for _ in range(count)]
    assert answers == [{"result": "success", "ref": n} for n in range(count)]
    assert wait_until(lambda: len(messages(events)) == count)


@pytest.mark.parametrize("presence", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_socket_closed_without_bye_makes_its_agents_inactive_exactly_once(
    live_backend, events, token, presence, request
):
    env = {"POA_INACTIVITY_TIMEOUT": "3"}
    if presence == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")  # presence shared through Redis
        env["POA_REDIS_PREFIX"] = request.getfixturevalue("redis_prefix")
    backend = live_backend(env=env)
    url = socket_url_of(backend)
    with open_socket(url, token) as ws:  # a clean close, without bye
        for agent in ("node-a", "node-b"):
            assert call(ws, {"call": "ping", "id": agent}) == {"result": "success"}
    with open_socket(url, token) as ws:  # a dropped connection: no close frame at all
        assert call(ws, {"call": "ping", "id": "node-c"}, "msgpack") == {"result": "success"}
        ws.socket.shutdown(socket.SHUT_RDWR)

    # At once: well before the inactivity timeout could say it.
    assert wait_until(lambda: sorted(inactive(events)) == ["node-a", "node-b", "node-c"], timeout=2.0)
    time.sleep(3.5)  # past the inactivity timeout: the timer must not say it again
    assert sorted(inactive(events)) == ["node-a", "node-b", "node-c"]


def test_an_open_socket_is_closed_when_its_token_expires(socket_url, events):
    create_agent_user("short-lived", "pw")
    with override_settings(POA_BACKEND={**settings.POA_BACKEND, "JWT_LIFETIME": 2}):
        token = issue_token("short-lived")
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    with open_socket(socket_url, token) as ws:
        assert call(ws, {"call": "ping", "id": "node-x"}) == {"result": "success"}
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "token_expired")
    assert time.time() >= expires_at - 0.5  # closed at the expiry, not before
    assert wait_until(lambda: inactive(events) == ["node-x"])


def test_an_open_socket_is_closed_when_its_token_is_banned(live_backend, events, token):
    row = CustomHandler.objects.get(name="agent_socket")
    row.options = {**row.options, "recheck_interval": 0.5}
    row.save()
    url = socket_url_of(live_backend())
    with open_socket(url, token) as ws:
        assert call(ws, {"call": "ping", "id": "node-y"}) == {"result": "success"}
        BannedToken.objects.create(
            jti=jwt.decode(token, options={"verify_signature": False})["jti"],
            user_name="agent-user",
            expires_at=timezone.now() + timezone.timedelta(hours=1),
        )
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4003, "token_refused")
    assert wait_until(lambda: inactive(events) == ["node-y"])
    assert refusal(url, {"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_frame_over_one_mebibyte_drops_the_connection(socket_url, token):
    big = {"call": "data", "id": "node-z", "type": "system_metrics", "data": {"pad": "x" * (1024 * 1024)}}

    def send_then_read(ws):
        # The server drops the connection as soon as it reads the frame's length: the client
        # notices while still sending the frame, or at its next read.
        send(ws, big, "msgpack")
        ws.recv(timeout=10)

    with open_socket(socket_url, token) as ws, pytest.raises(ConnectionClosed) as closed:
        send_then_read(ws)
    assert closed.value.rcvd is None  # dropped without a close frame: the client sees 1006
    with open_socket(socket_url, token) as ws:
        assert call(ws, {"call": "ping", "id": "node-z"}) == {"result": "success"}


def test_ping_and_bye_keep_answering_while_the_shared_presence_store_is_out_of_reach(
    live_backend, token, events
):
    # A Redis nobody listens on: the socket stays open, presence answers and data still flows.
    backend = live_backend(env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    with open_socket(socket_url_of(backend), token) as ws:
        for call_name in ("ping", "bye"):
            assert call(ws, {"call": call_name, "id": "node-1", "ref": 1}) == {"result": "success", "ref": 1}
        body = sample("latency")
        assert call(ws, {"call": "data", **body}, "msgpack") == {"result": "success"}
    assert wait_until(lambda: messages(events))
