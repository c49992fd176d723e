"""``simulateagents --transport ethstats``: each client profile's simulated nodes log in and their
stamped blocks reach the dashboard feed."""

import asyncio
import json

import pytest

from simulator.ethstats import PROFILES
from simulator.runner import Simulation, run_simulation
from tests.ethstats_support import SHARED_SECRET, WAIT, open_feed, use_rows

pytestmark = pytest.mark.usefixtures("live_db")


def test_simulated_nodes_of_every_profile_reach_the_feed(live_backend, recording_path):
    use_rows(secrets=[SHARED_SECRET])
    backend = live_backend()

    async def scenario():
        async with open_feed(backend) as feed:
            for profile in PROFILES:
                simulation = Simulation(
                    url=backend.url("ethstats"),
                    agents=3,
                    credentials=[],
                    transport="ethstats",
                    duration=7.0,
                    profile=profile,
                    secret=SHARED_SECRET,
                    id_prefix=f"sim-{profile}",
                )
                recorder = await run_simulation(simulation)
                assert recorder.errors == {}, (profile, recorder.errors)
                assert recorder.by_call["block"] >= 3, profile  # one per node per head (every 5 s)
                blocks = 0
                while blocks < 3:
                    frame = json.loads(await asyncio.wait_for(feed.recv(), WAIT))
                    if frame["data"]["type"] == "block":
                        body = frame["data"]["body"]
                        assert list(body)[:2] == ["ts", "seq"]
                        assert isinstance(body["number"], int)
                        blocks += 1

    asyncio.run(scenario())
