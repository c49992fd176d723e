import os
import uuid

import pytest

from poa_backend.core.models import MetricType
from receivers.models import Receiver
from tests.live import LiveBackend
from tests.plugins import recorded

# Test processes running side by side (pytest -n) each hand out ports from their own range.
if "PYTEST_XDIST_WORKER" in os.environ:
    _worker = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    _width = 12000 // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ["POA_FREE_PORTS"] = f"{20000 + _worker * _width}-{20000 + (_worker + 1) * _width}"

# With POA_REQUIRE_SERVICES set (CI), tests needing Redis fail instead of skipping.
REQUIRE_SERVICES = os.environ.get("POA_REQUIRE_SERVICES") == "1"
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
# With POA_DATABASE_TESTS_ONLY set, only tests touching the database run: CI's second pass,
# on PostgreSQL, need not repeat what cannot differ from the first, on SQLite.
DATABASE_TESTS_ONLY = os.environ.get("POA_DATABASE_TESTS_ONLY") == "1"
DATABASE_FIXTURES = {"db", "transactional_db"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not DATABASE_TESTS_ONLY:
        return
    kept, deselected = [], []
    for item in items:
        uses_database = item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(
            getattr(item, "fixturenames", ())
        )
        (kept if uses_database else deselected).append(item)
    config.hook.pytest_deselected(items=deselected)
    items[:] = kept


@pytest.fixture
def live_db(transactional_db, django_db_serialized_rollback):
    """Committed writes (visible to a server process), with the seeded rows restored for every test."""


@pytest.fixture
def live_backend(live_db):
    """Factory: ``start(env=...)`` runs the real backend on free ports; all are stopped after the test.

    Call it twice for two processes (with ``REDIS_URL`` to share state): each has its own ports.
    """
    started: list[LiveBackend] = []

    def start(*args: str, env: dict[str, str] | None = None) -> LiveBackend:
        # Each process gets listeners of its own: the rows move to free ports, and
        # processes started before keep the sockets they already hold.
        backend = LiveBackend(env=env)
        started.append(backend)
        return backend.start(*args)

    yield start
    for backend in started:
        backend.stop()


@pytest.fixture
def recording_path(live_db, tmp_path):
    """A RecordingReceiver row subscribed to every metric type; the JSON-lines file it writes
    (whichever server process runs it), read with ``tests.live.read_events``."""
    path = tmp_path / "events.jsonl"
    row = Receiver.objects.create(
        name="recording", class_path="tests.plugins.RecordingReceiver", options={"path": str(path)}
    )
    row.metric_types.set(MetricType.objects.all())
    return path


@pytest.fixture
def redis_url():
    """A Redis URL with a fresh key prefix; skips when Redis is down, unless services are required."""
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL).ping()
    except redis.RedisError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis at {REDIS_TEST_URL} is required: {exc}")
        pytest.skip(f"Redis at {REDIS_TEST_URL} is not running")
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix():
    return f"poa-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _spool_of_this_test(tmp_path, settings):
    """Receivers a test runs in this process spool under its own directory, never under var/."""
    settings.POA_BACKEND = {**settings.POA_BACKEND, "SPOOL_DIR": str(tmp_path / "spool")}


@pytest.fixture(autouse=True)
def _clear_recorded():
    recorded.clear()
    yield
    recorded.clear()
