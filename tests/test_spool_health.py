"""What an operator sees of delivery: /healthz per dependency, spool figures in /metrics."""

import json
from pathlib import Path

import pytest

from handlers.auth.tokens import issue_token
from receivers.models import Receiver
from tests.agent_client import call, create_agent_user, request
from tests.live import free_port, wait_until

pytestmark = pytest.mark.usefixtures("live_db")

FIXTURES = Path(__file__).parent / "fixtures" / "agent"


def healthz(url):
    reply = request(url, "/healthz", method="GET")
    return reply.status, json.loads(reply.body)


def test_healthz_reports_each_dependency_and_turns_unhealthy_when_a_spool_backs_up(live_backend):
    create_agent_user("agent-user", "secret-password")
    token = issue_token("agent-user")
    # DynamoDB pointed at a port where nothing listens: its sink is away from the start.
    row = Receiver.objects.get(name="dynamodb_blocks")
    row.options = {**row.options, "endpoint_url": f"http://127.0.0.1:{free_port()}", "retry_max_delay": 0.2}
    row.enabled = True
    row.full_clean()
    row.save()
    backend = live_backend(
        env={
            "POA_HEALTH_SPOOL_AGE": "2",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    rest = backend.url("rest")
    status, body = healthz(rest)
    assert status == 200
    assert body["dependencies"]["database"] == {"status": "up"}
    assert body["sinks"]["ethereum_statistics"]["status"] == "up"

    block = json.loads((FIXTURES / "block.json").read_text())
    for _ in range(5):
        assert call(rest, "/data", block, "json", token).status == 200

    def backed_up():
        status, body = healthz(rest)
        return status == 503 and body["sinks"]["dynamodb_blocks"]["status"] == "backlog"

    assert wait_until(backed_up, timeout=10)
    status, body = healthz(rest)
    assert body["status"] == "unhealthy"
    sink = body["sinks"]["dynamodb_blocks"]
    assert sink["depth"] == 5
    assert sink["bytes"] > 0
    assert sink["oldest_seconds"] > 2
    assert "last_error" in sink

    text = request(rest, "/metrics", method="GET").body.decode()
    assert 'poa_receiver_spool_messages{receiver="dynamodb_blocks"} 5.0' in text
    assert 'poa_receiver_oldest_undelivered_seconds{receiver="dynamodb_blocks"}' in text
