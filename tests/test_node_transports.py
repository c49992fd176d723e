"""The admin's node transports: a POA agent's information message notes its transport and client."""

import json
import time

from django.contrib.auth.models import User
from websockets.sync.client import connect

from handlers.auth.tokens import issue_token
from handlers.models import NodeTransport
from tests.agent_client import call, create_agent_user, sample
from tests.live import wait_until


def test_rest_and_agent_socket_agents_are_listed_with_their_transport_and_client(live_backend, client):
    create_agent_user("agent", "a-long-password")
    token = issue_token("agent")
    backend = live_backend()
    information = sample("information")
    client_name = information["data"]["body"]["node"]

    assert call(backend.url("rest"), "/data", {**information, "id": "over-rest"}, token=token).status == 200
    assert (
        call(backend.url("rest"), "/data", {**sample("latency"), "id": "latency-only"}, token=token).status
        == 200
    )
    url = backend.url("agent_socket").replace("http://", "ws://") + "/agent"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
        ws.send(json.dumps({"call": "data", **information, "id": "over-socket"}))
        assert json.loads(ws.recv(timeout=10)) == {"result": "success"}

    assert wait_until(lambda: NodeTransport.objects.count() == 2)
    rows = {row.agent_id: (row.transport, row.client, row.user_name) for row in NodeTransport.objects.all()}
    assert rows == {
        "over-rest": ("rest", client_name, "agent"),
        "over-socket": ("agent_socket", client_name, "agent"),
    }
    client.force_login(User.objects.create_superuser("root", "root@example.org", "a-long-password"))
    page = client.get("/admin/handlers/nodetransport/", secure=True)
    assert page.status_code == 200
    assert b"over-socket" in page.content
    assert b"agent socket" in page.content


def test_a_node_is_noted_again_only_when_its_announcement_changes_or_the_interval_passed(db, monkeypatch):
    from handlers import transports
    from poa_backend.core.message import Message

    monkeypatch.setattr(transports, "_noted", transports.TTLCache(maxsize=100, ttl=0.5))

    def announce(client):
        body = {"node": client}
        message = Message(
            agent_id="node-1", data_type="ethereum_metrics", data={"type": "information", "body": body}
        )
        note = transports.due_note(message, NodeTransport.REST, "agent")
        if note is not None:
            transports.write_note(*note)
        return NodeTransport.objects.get(agent_id="node-1")

    first = announce("Parity//v2")
    assert announce("Parity//v2").last_seen == first.last_seen  # repeated: no write
    changed = announce("OpenEthereum//v3")
    assert (changed.client, changed.last_seen > first.last_seen) == ("OpenEthereum//v3", True)
    time.sleep(0.6)  # the interval passes: noted again, unchanged
    assert announce("OpenEthereum//v3").last_seen > changed.last_seen
