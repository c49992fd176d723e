"""runbackend end to end: every listener of the enabled rows answers; SIGTERM drains and exits."""

import ssl
import time
import urllib.error
import urllib.request

import pytest

from poa_backend.core.models import MetricType
from receivers.models import Receiver
from tests.live import read_events

pytestmark = pytest.mark.usefixtures("live_db")


def status_of(url: str) -> int:
    context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_all_default_listeners_answer_and_sigterm_drains_and_terminates(live_backend, tmp_path):
    events = tmp_path / "events.jsonl"
    recorder = Receiver.objects.create(
        name="recorder", class_path="tests.plugins.RecordingReceiver", options={"path": str(events)}
    )
    recorder.metric_types.set(MetricType.objects.all())

    backend = live_backend()
    assert set(backend.ports) >= {"rest", "auth", "dashboard"}
    # Unknown paths answer 404 on every listener: each is up and routed.
    assert status_of(backend.url("rest") + "/no-such-path") == 404
    assert status_of(backend.url("auth") + "/no-such-path") == 404
    assert backend.url("auth").startswith("https://")
    assert status_of(backend.url("dashboard") + "/no-such-path") == 404
    for name in ("rest", "auth", "dashboard"):
        assert f"listening on {backend.url(name)}" in backend.log

    started = time.monotonic()
    code = backend.stop(timeout=10)
    assert time.monotonic() - started < 10
    assert code == 0, backend.log
    assert [e["event"] for e in read_events(events)][-1:] == ["terminate"]
    assert "Traceback" not in backend.log


def test_daphne_on_a_single_port_serves_every_route(live_db, tmp_path):
    """Behind a proxy: one port, routing by path (the admin, the REST calls, the auth API)."""
    import subprocess
    import sys

    from tests.live import ROOT, LiveBackend, free_port, wait_for_port

    port = free_port()
    environment = LiveBackend().environment()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "poa_backend.asgi:application"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        base = f"http://127.0.0.1:{port}"
        assert status_of(base + "/admin/login/") == 200
        assert status_of(base + "/no-such-path") == 404
        request = urllib.request.Request(base + "/ping", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10)
            ping_status = 200
        except urllib.error.HTTPError as error:
            ping_status = error.code
        assert ping_status == 415  # the REST handler's route, answering a body without Content-Type
        assert status_of(base + "/user") == 403  # the auth API's route, refusing plain HTTP
    finally:
        process.terminate()
        process.wait(10)


def test_a_listener_that_cannot_open_stops_the_start_with_an_error(live_db):
    """A port already taken: a clear error and a failing exit code, not a server missing a listener."""
    import socket
    import subprocess
    import sys

    from tests.live import ROOT, LiveBackend

    backend = LiveBackend()
    backend.assign_ports()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", backend.ports["rest"]))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "manage.py", "runbackend", "--no-migrate"],
            cwd=ROOT,
            env=backend.environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "could not open every listener" in result.stderr
    assert f"listening on {backend.url('rest')}" not in result.stderr
    assert f"listening on {backend.url('dashboard')}" in result.stderr
