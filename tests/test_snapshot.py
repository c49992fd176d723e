"""Values read from the database for the hot path: async callers never queue up behind a re-read."""

import asyncio
import threading
import time

import pytest

from poa_backend.core.snapshot import Snapshot

pytestmark = pytest.mark.usefixtures("live_db")


def test_async_readers_get_the_last_value_at_once_while_one_re_read_runs(settings):
    settings.POA_BACKEND = {**settings.POA_BACKEND, "CONFIG_REFRESH_INTERVAL": 0.05}
    loads = []
    release = threading.Event()

    def load():
        loads.append(time.monotonic())
        if len(loads) > 1:
            release.wait(5)  # a slow re-read (the database is busy)
        return len(loads)

    snapshot = Snapshot(load)

    async def scenario():
        assert await snapshot.aget() == 1  # never read: waited for
        await asyncio.sleep(0.1)  # stale now
        started = time.monotonic()
        values = [await snapshot.aget() for _ in range(200)]
        waited = time.monotonic() - started
        release.set()
        for _ in range(100):  # the re-read lands
            await asyncio.sleep(0.01)
            if snapshot.is_fresh():
                break
        return values, waited, await snapshot.aget()

    values, waited, after = asyncio.run(scenario())
    assert values == [1] * 200  # the last value, for every caller, while the re-read hangs
    assert waited < 1.0  # nobody waited for it (it hangs for up to 5 s)
    assert len(loads) == 2  # one re-read for all of them
    assert after == 2
