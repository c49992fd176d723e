"""The dashboard feed tests' fixtures (``pytest_plugins = ["tests.dashboard_fixtures"]``)."""

import shutil

import pytest
import redis

from handlers.models import CustomHandler
from receivers.models import Receiver
from tests.dashboard_support import SECRET, ThrowawayRedis, set_feed_options
from tests.live import LiveBackend


@pytest.fixture
def feed_rows():
    """Only the dashboard receiver (known secret) and the inject handler run in the server."""
    CustomHandler.objects.update(enabled=False)
    Receiver.objects.exclude(name="dashboard").update(enabled=False)
    set_feed_options(secret=SECRET)
    CustomHandler.objects.create(name="inject", class_path="tests.plugins.InjectHandler", options={})
    return Receiver.objects.get(name="dashboard")


@pytest.fixture
def other_process():
    """Starts a backend on its own free ports (the rows move; processes already running keep theirs)."""
    started: list[LiveBackend] = []

    def start(env: dict[str, str], before_start=None) -> LiveBackend:
        backend = LiveBackend(env=env)
        backend.assign_ports()
        if before_start is not None:
            before_start(backend)
        started.append(backend)
        return backend.start()

    yield start
    for backend in started:
        backend.stop()


@pytest.fixture
def redis_env(redis_url, redis_prefix):
    """The machine's Redis under a fresh prefix, removed after the test."""
    yield {"REDIS_URL": redis_url, "POA_REDIS_PREFIX": redis_prefix}
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{redis_prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def throwaway_redis():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed on the PATH")
    server = ThrowawayRedis().start()
    yield server
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)
