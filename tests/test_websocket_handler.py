"""The agent socket as a plug-in: its seeded row, its options, its route following the row."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from websockets.exceptions import InvalidStatus

from handlers.auth.tokens import issue_token
from handlers.models import CustomHandler
from handlers.websocket import AgentSocketHandler
from tests.agent_client import create_agent_user
from tests.live import wait_until
from tests.test_websocket_agent import call, open_socket

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.org", "a-long-password"))
    return client


def test_the_agent_socket_is_seeded_beside_the_rest_handler_on_its_port():
    row = CustomHandler.objects.get(name="agent_socket")
    assert row.class_path == "handlers.websocket.AgentSocketHandler"
    assert row.options == {"scheme": "http", "port": 4002, "path": "/agent"}
    assert row.enabled
    assert CustomHandler.objects.get(name="rest").options["port"] == row.options["port"]
    assert isinstance(row.build(), AgentSocketHandler)


def test_options_default_to_the_agent_path_and_a_30_second_token_recheck():
    assert AgentSocketHandler("s", {}).options == {"path": "/agent", "recheck_interval": 30}
    options = {"path": "/agents/v1", "recheck_interval": 0.5}
    assert AgentSocketHandler("s", options).options == options


@pytest.mark.parametrize("interval", [0, -1, "30", True, None])
def test_the_recheck_interval_must_be_a_positive_number(interval):
    with pytest.raises(ValidationError, match="recheck_interval: must be a number of seconds above 0"):
        AgentSocketHandler.clean_options({"recheck_interval": interval})


@pytest.mark.parametrize("path", ["agent", "/agent/<int:n>", "/a b", ""])
def test_the_admin_refuses_a_bad_path_as_an_options_error(admin_client, path):
    response = admin_client.post(
        "/admin/handlers/customhandler/add/",
        {
            "name": "socket2",
            "class_path": "handlers.websocket.AgentSocketHandler",
            "options": f'{{"path": "{path}"}}',
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "path: must start with" in " ".join(response.context["adminform"].form.errors["options"])


def test_the_route_follows_the_row_path_and_disabling_the_row_refuses_new_sockets(live_backend):
    row = CustomHandler.objects.get(name="agent_socket")
    row.options = {**row.options, "path": "/agents/v1"}
    row.save()
    create_agent_user("agent-user", "pw")
    token = issue_token("agent-user")
    backend = live_backend()
    base = backend.url("agent_socket").replace("http://", "ws://")

    with open_socket(base + "/agents/v1", token) as ws:
        assert call(ws, {"call": "ping", "id": "node-1"}) == {"result": "success"}
    with pytest.raises(InvalidStatus) as refused_elsewhere:
        open_socket(base + "/agent", token)
    assert refused_elsewhere.value.response.status_code == 403

    row.enabled = False
    row.save()

    def refused():
        try:
            with open_socket(base + "/agents/v1", token):
                pass
        except InvalidStatus as exc:
            return exc.response.status_code == 403
        return False

    assert wait_until(refused, timeout=2.0)
