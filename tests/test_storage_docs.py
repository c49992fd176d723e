"""docs/receivers.md: the "write your own receiver" example, run as written, and the documented rows."""

import json
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from poa_backend.core.handler import HandlerPlugin
from poa_backend.core.message import Message
from receivers.dispatch import dispatcher
from receivers.models import Receiver
from tests.live import wait_until

pytestmark = pytest.mark.usefixtures("live_db")

DOC = Path(__file__).resolve().parent.parent / "docs" / "receivers.md"
DOCUMENTED_PATH = "/var/log/poa/messages.jsonl"


def section(title):
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture
def example_module(tmp_path, monkeypatch):
    """The documented module, saved where the doc says (``myreceivers/jsonl.py``) on the path."""
    module_code, _ = python_blocks(section("Write your own receiver"))
    package = tmp_path / "myreceivers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jsonl.py").write_text(module_code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    import sys

    for name in ("myreceivers.jsonl", "myreceivers"):
        sys.modules.pop(name, None)


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_documented_example_receiver_gets_its_messages(example_module, tmp_path):
    _, registration = python_blocks(section("Write your own receiver"))
    out = tmp_path / "messages.jsonl"
    assert DOCUMENTED_PATH in registration
    Receiver.objects.all().delete()  # only the documented receiver runs
    exec(registration.replace(DOCUMENTED_PATH, str(out)), {})

    row = Receiver.objects.get(name="jsonl")
    assert sorted(m.name for m in row.metric_types.all()) == ["ethereum_metrics", "system_metrics"]
    dispatcher.start()
    try:
        handler = HandlerPlugin("test-handler", {})
        sent = [
            Message("node-1", "ethereum_metrics", {"type": "pending", "body": {"pending": n}})
            for n in range(20)
        ]
        sent.append(Message("node-1", "system_metrics", {"type": "statistics", "body": {"cpu_load": 1.5}}))
        for message in sent:
            handler.send_to_receivers(message)
        handler.send_to_receivers(Message("node-1", "networking_metrics", {"type": "latency", "body": {}}))
        handler.ping("node-1")
        handler.publish_inactive("node-1")
        assert wait_until(lambda: len(read_lines(out)) == len(sent) + 1)
    finally:
        dispatcher.stop(timeout=10)

    lines = read_lines(out)
    assert lines[:-1] == [{"agent_id": m.agent_id, "data_type": m.data_type, "data": m.data} for m in sent]
    assert lines[-1] == {"agent_id": "node-1", "inactive": True}
    assert dispatcher.get("jsonl") is None


def test_the_documented_example_checks_its_options(example_module):
    row = Receiver(name="jsonl", class_path="myreceivers.jsonl.JsonLinesReceiver", options={})
    with pytest.raises(ValidationError) as excinfo:
        row.full_clean()
    assert excinfo.value.message_dict["options"] == ["path: the file to append to, a non-empty string"]


def test_every_seeded_receiver_is_documented_with_its_class_and_options():
    built_in = section("Built-in receivers")
    for row in Receiver.objects.all():
        assert f"| `{row.name}` | `{row.class_path}` |" in built_in
        for option in row.options:
            assert f"`{option}`" in built_in, (row.name, option)
