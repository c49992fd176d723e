"""A custom handler written outside the project, added and removed in the admin of a running server.

``tests.plugins.FormPingHandler`` stands for a third party's package: it is named
by its dotted path in a row added through the admin form, the running server
starts serving its routes without a restart, its messages reach a subscribed
receiver, and disabling the row (again through the admin) takes its routes away.
"""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth.models import User

from handlers.models import CustomHandler
from poa_backend.core.models import MetricType
from receivers.models import Receiver
from tests.live import read_events, wait_until

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.org", "a-long-password"))
    return client


def post_form(url: str, fields: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def last_event(path) -> dict:
    events = read_events(path)
    return events[-1] if events else {}


def status_within(url: str, fields: dict[str, str], status: int, timeout: float) -> bool:
    return wait_until(lambda: post_form(url, fields)[0] == status, timeout)


def test_a_handler_added_in_the_admin_serves_at_once_and_disabling_it_removes_its_routes(
    live_backend, admin_client, tmp_path
):
    events = tmp_path / "events.jsonl"
    recorder = Receiver.objects.create(
        name="recorder", class_path="tests.plugins.RecordingReceiver", options={"path": str(events)}
    )
    recorder.metric_types.set(MetricType.objects.filter(name="system_metrics"))
    backend = live_backend()
    data_url = backend.url("rest") + "/form/data"
    bye_url = backend.url("rest") + "/form/bye"
    sample = {"id": "agent-7", "type": "system_metrics", "cpu_load": "12.5"}
    assert post_form(data_url, sample) == (404, b"")

    response = admin_client.post(
        "/admin/handlers/customhandler/add/",
        {
            "name": "forms",
            "class_path": "tests.plugins.FormPingHandler",
            "options": "{}",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert status_within(data_url, sample, 200, timeout=2.0)

    status, body = post_form(data_url, {"id": "agent-7", "type": "system_metrics", "cpu_load": "13"})
    assert (status, json.loads(body)) == (200, {"result": "success"})
    assert post_form(data_url, {"id": "agent-7", "type": "no_such_metrics"}) == (422, b"")
    assert post_form(bye_url, {"id": "agent-7"})[0] == 200
    assert wait_until(lambda: {"event": "inactive", "value": "agent-7"}.items() <= last_event(events).items())
    messages = [e["value"] for e in read_events(events) if e["event"] == "message"]
    assert messages[-1] == {
        "agent_id": "agent-7",
        "data_type": "system_metrics",
        "message_type": "data",
        "data": {"cpu_load": "13"},
    }

    row = CustomHandler.objects.get(name="forms")
    assert row.options == {}  # the row keeps what the operator typed; the class completes it
    response = admin_client.post(
        f"/admin/handlers/customhandler/{row.pk}/change/",
        {"name": "forms", "class_path": row.class_path, "options": "{}"},  # "enabled" unticked
    )
    assert response.status_code == 302
    disabled_at = time.monotonic()
    assert status_within(data_url, sample, 404, timeout=2.0)
    assert time.monotonic() - disabled_at <= 2.0
    assert post_form(bye_url, {"id": "agent-7"})[0] == 404


def test_the_admin_refuses_bad_options_of_a_third_party_handler(admin_client):
    response = admin_client.post(
        "/admin/handlers/customhandler/add/",
        {"name": "forms", "class_path": "tests.plugins.FormPingHandler", "options": '{"prefix": "a b"}'},
    )
    assert response.status_code == 200
    assert "prefix: must be a word" in " ".join(response.context["adminform"].form.errors["options"])
    assert not CustomHandler.objects.filter(name="forms").exists()
