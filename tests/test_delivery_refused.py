"""A durable receiver whose spool is full: agents are told to call again, never answered success
for a message that would be lost."""

import json

from websockets.sync.client import connect

from bench.backend import free_port
from handlers.auth.tokens import issue_token
from receivers.models import Receiver
from tests.agent_client import call, create_agent_user, sample

#: Bytes the spool of each durable receiver may hold in this test's server: a few blocks.
SPOOL_MAX_BYTES = 20_000


def blocks(count: int) -> list[dict]:
    body = sample("block")
    return [
        {**body, "data": {**body["data"], "body": {**body["data"]["body"], "number": n}}}
        for n in range(count)
    ]


def test_rest_and_the_agent_socket_refuse_while_dynamodb_is_away_and_its_spool_full(live_backend):
    row = Receiver.objects.get(name="dynamodb_blocks")
    row.options = {
        **row.options,
        "endpoint_url": f"http://127.0.0.1:{free_port()}",  # nothing listens: DynamoDB is away
        "region": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    row.enabled = True
    row.full_clean()
    row.save()
    create_agent_user("agent", "a-long-password")
    token = issue_token("agent")
    backend = live_backend(env={"POA_SPOOL_MAX_BYTES": str(SPOOL_MAX_BYTES)})

    answers = [call(backend.url("rest"), "/data", body, token=token) for body in blocks(40)]
    statuses = [answer.status for answer in answers]
    assert 200 in statuses
    refused = statuses.index(503)
    assert set(statuses[refused:]) == {503}  # full stays full while DynamoDB is away
    assert json.loads(answers[refused].body) == {"error": "receivers_unavailable"}
    assert int(answers[refused].headers["retry-after"]) > 0

    url = backend.url("agent_socket").replace("http://", "ws://") + "/agent"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
        ws.send(json.dumps({"call": "data", **blocks(1)[0], "ref": 1}))
        assert json.loads(ws.recv(timeout=10)) == {
            "result": "error",
            "payload": "receivers_unavailable",
            "ref": 1,
        }
