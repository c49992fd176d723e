"""Out-of-band messages: an operator sends one from the admin; the chosen receivers get it."""

import pytest
import redis
from django.contrib.auth.models import User

from receivers import out_of_band
from receivers.dispatch import dispatcher
from receivers.models import Receiver
from tests.live import read_events, wait_until
from tests.plugins import recorded

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def running():
    Receiver.objects.all().delete()  # only the receivers a test adds
    for name in ("one", "two"):
        Receiver.objects.create(name=name, class_path="tests.plugins.RecordingReceiver")
    dispatcher.start()
    yield dispatcher
    dispatcher.stop(timeout=5)


def test_the_admin_action_asks_for_a_payload_then_sends_it_to_the_selected_receivers(running, client):
    client.force_login(User.objects.create_superuser("root", "root@example.org", "a-long-password"))
    one = Receiver.objects.get(name="one")
    action = {"action": "send_out_of_band", "_selected_action": [one.pk]}

    form = client.post("/admin/receivers/receiver/", action, secure=True)
    assert form.status_code == 200
    assert b'name="payload"' in form.content
    refused = client.post("/admin/receivers/receiver/", {**action, "payload": "{not json"}, secure=True)
    assert refused.status_code == 200
    assert refused.context["form"].errors["payload"]

    sent = client.post(
        "/admin/receivers/receiver/", {**action, "payload": '{"maintenance": true}'}, secure=True
    )
    assert sent.status_code == 302
    assert wait_until(lambda: recorded["one"] == [("out_of_band", {"maintenance": True})])
    assert recorded["two"] == []


def test_with_redis_every_process_hands_it_to_its_receivers(
    live_backend, tmp_path, redis_url, redis_prefix, settings
):
    events = tmp_path / "events.jsonl"
    Receiver.objects.create(
        name="recorder", class_path="tests.plugins.RecordingReceiver", options={"path": str(events)}
    )
    env = {"REDIS_URL": redis_url, "POA_REDIS_PREFIX": redis_prefix}
    live_backend(env=env)
    live_backend(env=env)
    settings.REDIS_URL = redis_url
    settings.POA_BACKEND = {**settings.POA_BACKEND, "REDIS_PREFIX": redis_prefix}

    def received() -> list:
        return [e["value"] for e in read_events(events) if e["event"] == "out_of_band"]

    # Each server subscribes as it starts serving.
    client = redis.Redis.from_url(redis_url)
    assert wait_until(lambda: client.pubsub_numsub(out_of_band.channel())[0][1] == 2)
    out_of_band.send({"n": 1}, ["recorder"])
    assert wait_until(lambda: received() == [{"n": 1}, {"n": 1}])
