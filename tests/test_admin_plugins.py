"""Plug-in rows edited in the Django admin: form errors for bad rows, edits applied without restart."""

import time

import pytest
from django.contrib.auth.models import User

from handlers.models import CustomHandler as CustomHandlerRow
from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from poa_backend.core.metric_types import is_metric_type
from poa_backend.core.models import MetricType
from receivers.dispatch import dispatcher
from receivers.models import Receiver
from tests.live import wait_until
from tests.plugins import recorded
from tests.test_dispatch import add_receiver, messages_of, sample

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("root", "root@example.org", "a-long-password")
    client.force_login(user)
    return client


def receiver_form(row, **changes):
    data = {
        "name": row.name,
        "class_path": row.class_path,
        "options": __import__("json").dumps(row.options),
        "metric_types": [m.pk for m in row.metric_types.all()],
    }
    if row.enabled:
        data["enabled"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_seeded_defaults():
    assert set(MetricType.objects.values_list("name", flat=True)) == {
        "ethereum_metrics",
        "networking_metrics",
        "system_metrics",
    }
    handlers = {row.name: row for row in CustomHandlerRow.objects.all()}
    assert handlers["rest"].options == {"scheme": "http", "port": 4002}
    assert handlers["auth"].options == {"scheme": "https", "port": 4003}
    receivers = {row.name: row for row in Receiver.objects.all()}
    subscriptions = {name: sorted(m.name for m in row.metric_types.all()) for name, row in receivers.items()}
    assert subscriptions == {
        "dashboard": ["ethereum_metrics", "networking_metrics"],
        "network": ["ethereum_metrics", "networking_metrics"],
        "ethereum_statistics": ["ethereum_metrics"],
        "system_statistics": ["system_metrics"],
        "dynamodb_blocks": ["ethereum_metrics"],
        "known_agents": ["ethereum_metrics", "networking_metrics", "system_metrics"],
    }
    assert receivers["dashboard"].options["port"] == 8181
    assert receivers["dashboard"].options["path"] == "/ws"
    assert len(receivers["dashboard"].options["secret"]) >= 24
    assert not receivers["dynamodb_blocks"].enabled
    assert all(receivers[name].enabled for name in ("dashboard", "ethereum_statistics", "system_statistics"))


@pytest.mark.parametrize(
    ("class_path", "options", "field", "text"),
    [
        ("tests.plugins.NoSuchThing", "{}", "class_path", "does not import"),
        ("no_such_module.Receiver", "{}", "class_path", "does not import"),
        ("tests.plugins.NotAPlugin", "{}", "class_path", "is not a receiver"),
        ("poa_backend.core.handler.HandlerPlugin", "{}", "class_path", "is not a receiver"),
        ("tests.plugins.PickyReceiver", '{"level": "high"}', "options", "level: must be an integer"),
        ("tests.plugins.RecordingReceiver", '{"port": 99999}', "options", "port: must be an integer"),
        ("tests.plugins.RecordingReceiver", "[1, 2]", "options", "must be a JSON object"),
    ],
)
def test_admin_refuses_a_bad_receiver_row_as_a_form_error(admin_client, class_path, options, field, text):
    response = admin_client.post(
        "/admin/receivers/receiver/add/",
        {"name": "bad", "class_path": class_path, "options": options, "enabled": "on"},
    )
    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert field in errors
    assert text in " ".join(errors[field])
    assert not Receiver.objects.filter(name="bad").exists()


def test_admin_refuses_a_receiver_class_as_a_custom_handler(admin_client):
    response = admin_client.post(
        "/admin/handlers/customhandler/add/",
        {"name": "bad", "class_path": "tests.plugins.RecordingReceiver", "options": "{}", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "is not a custom handler" in " ".join(response.context["adminform"].form.errors["class_path"])


def test_admin_accepts_a_good_row_and_shows_live_figures(admin_client):
    response = admin_client.post(
        "/admin/receivers/receiver/add/",
        {
            "name": "picky",
            "class_path": "tests.plugins.PickyReceiver",
            "options": '{"level": 3}',
            "enabled": "on",
            "metric_types": [MetricType.objects.get(name="system_metrics").pk],
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    dispatcher.reload()
    try:
        listing = admin_client.get("/admin/receivers/receiver/").content.decode().lower()
        assert "picky" in listing
        assert "queue depth" in listing
        assert "last error" in listing
    finally:
        dispatcher.stop(timeout=2)


@pytest.fixture
def running():
    Receiver.objects.all().delete()
    dispatcher.start()
    yield dispatcher
    dispatcher.stop(timeout=5)


def test_disabling_a_receiver_in_the_admin_stops_delivery_within_two_seconds(admin_client, running):
    handler = HandlerPlugin("h", {})
    row = add_receiver("watcher", metric_types=["ethereum_metrics"])
    assert wait_until(lambda: running.get("watcher") is not None, 3)
    handler.send_to_receivers(sample("a", "block", 1))
    assert wait_until(lambda: len(messages_of("watcher")) == 1)

    response = admin_client.post(
        f"/admin/receivers/receiver/{row.pk}/change/", receiver_form(row, enabled=None)
    )
    assert response.status_code == 302
    time.sleep(2.0)
    for n in range(10):
        handler.send_to_receivers(sample("a", "block", n))
    time.sleep(0.5)
    assert len(messages_of("watcher")) == 1
    assert ("terminate", None) in recorded["watcher"]


def test_changing_a_subscription_in_the_admin_applies_within_two_seconds(admin_client, running):
    handler = HandlerPlugin("h", {})
    row = add_receiver("watcher", metric_types=["ethereum_metrics"])
    assert wait_until(lambda: running.get("watcher") is not None, 3)
    system = MetricType.objects.get(name="system_metrics")
    response = admin_client.post(
        f"/admin/receivers/receiver/{row.pk}/change/", receiver_form(row, metric_types=[system.pk])
    )
    assert response.status_code == 302
    time.sleep(2.0)
    handler.send_to_receivers(sample("a", "block", 1, "ethereum_metrics"))
    handler.send_to_receivers(sample("a", "statistics", 2, "system_metrics"))
    assert wait_until(lambda: len(messages_of("watcher")) == 1)
    time.sleep(0.3)
    assert [m["data_type"] for m in messages_of("watcher")] == ["system_metrics"]


def test_adding_a_metric_type_in_the_admin_applies_within_two_seconds(admin_client, running):
    handler = HandlerPlugin("h", {})
    assert not is_metric_type("storage_metrics")
    response = admin_client.post("/admin/poa_backend/metrictype/add/", {"name": "storage_metrics"})
    assert response.status_code == 302
    row = add_receiver("watcher", metric_types=["storage_metrics"])
    assert row.metric_types.count() == 1
    time.sleep(2.0)
    assert is_metric_type("storage_metrics")
    handler.send_to_receivers(Message("a", "storage_metrics", {"type": "statistics", "body": {}}))
    assert wait_until(lambda: len(messages_of("watcher")) == 1)
