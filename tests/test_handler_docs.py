"""docs/handlers.md: the "complete example" handler, run as written by a third party.

Following the doc (``ping`` when the agent speaks, ``publish_inactive`` when it leaves)
gives exactly one inactive event per active period: the presence deadline passing
afterwards fires nothing more.
"""

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from handlers.models import CustomHandler
from tests.live import read_events, wait_until

DOC = Path(__file__).resolve().parent.parent / "docs" / "handlers.md"
#: Seconds without a ping before presence declares an agent inactive, in this test's server.
INACTIVITY_TIMEOUT = 1.0


def example_handler_code() -> str:
    text = DOC.read_text()
    start = text.index("### A complete example")
    (code,) = re.findall(r"```python\n(.*?)```", text[start : text.index("### Starting it")], re.DOTALL)
    return code


def post_form(url: str, fields: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def inactive_events(path: Path, agent_id: str) -> list[dict]:
    return [e for e in read_events(path) if e["event"] == "inactive" and e["value"] == agent_id]


def test_the_documented_handler_gives_one_inactive_event_per_period(live_backend, recording_path, tmp_path):
    package = tmp_path / "myplugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handlers.py").write_text(example_handler_code())
    CustomHandler.objects.create(name="forms", class_path="myplugins.handlers.FormPingHandler", options={})
    backend = live_backend(
        env={"PYTHONPATH": str(tmp_path), "POA_INACTIVITY_TIMEOUT": str(INACTIVITY_TIMEOUT)}
    )
    base = backend.url("rest")

    fields = {"id": "node-1", "type": "system_metrics", "cpu_load": "12.5"}
    assert post_form(f"{base}/form/data", fields) == 200
    assert post_form(f"{base}/form/bye", {"id": "node-1"}) == 200
    assert wait_until(lambda: len(inactive_events(recording_path, "node-1")) == 1)
    time.sleep(INACTIVITY_TIMEOUT * 3)  # the period's deadline has long passed
    assert len(inactive_events(recording_path, "node-1")) == 1

    # A new period, ended by the deadline this time: one more event, and only one.
    assert post_form(f"{base}/form/data", fields) == 200
    assert wait_until(lambda: len(inactive_events(recording_path, "node-1")) == 2, INACTIVITY_TIMEOUT + 5)
    time.sleep(INACTIVITY_TIMEOUT * 3)
    assert len(inactive_events(recording_path, "node-1")) == 2
