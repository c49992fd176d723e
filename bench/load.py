"""The load processes: simulated agents in one, simulated dashboards in another.

Each runs its own event loop in a process of its own (started with ``spawn``), apart from
the server and from each other, and sends its counts back over a pipe when done.
"""

import asyncio
import multiprocessing
import time
from array import array
from multiprocessing.connection import Connection
from typing import Any

from simulator.dashboard import connect_dashboards
from simulator.runner import Simulation, run_simulation
from simulator.stats import Recorder
from simulator.transports import Credentials

CONTEXT = multiprocessing.get_context("spawn")


def _keys(keys: set[int]) -> bytes:
    return array("Q", sorted(keys)).tobytes()


def unpack_keys(data: bytes) -> set[int]:
    values = array("Q")
    values.frombytes(data)
    return set(values)


def agents_main(config: dict[str, Any], pipe: Connection) -> None:
    """Run the simulation described by ``config``; send back summary, accepted keys, timeline."""
    credentials = [Credentials(*item) for item in config.pop("credentials")]
    timeline: list[tuple[float, int]] = []

    def progress(recorder: Recorder) -> None:
        timeline.append((time.time(), recorder.accepted))

    simulation = Simulation(credentials=credentials, **config)
    recorder = asyncio.run(run_simulation(simulation, progress=progress, progress_interval=0.1))
    pipe.send(
        {
            "summary": recorder.summary(),
            "accepted_keys": _keys(recorder.accepted_keys),
            "latencies": recorder.latencies.tobytes(),
            "timeline": timeline,
        }
    )
    pipe.close()


def dashboards_main(url: str, secret: str, count: int, pipe: Connection) -> None:
    """Connect ``count`` dashboards, say ready, record frames until told to stop, send them back."""

    async def run() -> list[dict[str, Any]]:
        try:
            dashboards = await connect_dashboards(url, secret, count, ramp=min(5.0, count / 200))
        except (OSError, TimeoutError) as exc:
            pipe.send({"error": f"{type(exc).__name__}: {exc}"})
            return []
        pipe.send({"ready": len(dashboards)})
        while not pipe.poll():
            await asyncio.sleep(0.05)
        pipe.recv()
        results = []
        for dashboard in dashboards:
            recorder = dashboard.recorder
            results.append(
                {
                    "summary": recorder.summary(),
                    "open": dashboard.websocket.open if dashboard.websocket else False,
                    "received_keys": _keys(recorder.received_keys),
                    "latencies": recorder.latencies.tobytes(),
                    "sent_at": recorder.sent_at.tobytes(),
                }
            )
        await asyncio.gather(*(dashboard.close() for dashboard in dashboards), return_exceptions=True)
        return results

    results = asyncio.run(run())
    pipe.send({"dashboards": results})
    pipe.close()


class DashboardProcess:
    """Dashboards in a process of their own: ``start`` waits until all are connected."""

    def __init__(self, url: str, secret: str, count: int) -> None:
        self.pipe, child = CONTEXT.Pipe()
        self.process = CONTEXT.Process(target=dashboards_main, args=(url, secret, count, child), daemon=True)

    def start(self, timeout: float = 60.0) -> int:
        self.process.start()
        if not self.pipe.poll(timeout):
            raise RuntimeError("dashboards did not connect in time")
        message = self.pipe.recv()
        if "error" in message:
            raise RuntimeError(f"dashboards could not connect: {message['error']}")
        return message["ready"]

    def finish(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        self.pipe.send("stop")
        if not self.pipe.poll(timeout):
            self.process.kill()
            raise RuntimeError("dashboards did not report in time")
        results = self.pipe.recv()["dashboards"]
        self.process.join(10)
        return results


def run_agents(config: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run the agents in a process of their own and return what they report."""
    pipe, child = CONTEXT.Pipe()
    process = CONTEXT.Process(target=agents_main, args=(config, child), daemon=True)
    process.start()
    if not pipe.poll(timeout):
        process.kill()
        raise RuntimeError("agents did not report in time")
    result = pipe.recv()
    process.join(10)
    return result
