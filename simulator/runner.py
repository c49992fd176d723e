"""Run N simulated agents against a backend for a bounded time and count what happened."""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from simulator.agent import SimulatedAgent
from simulator.ethstats import PROFILES, SimulatedNode
from simulator.payloads import DEFAULT_HISTORY_DEPTH, Chain
from simulator.stats import Recorder
from simulator.transports import (
    Credentials,
    EthstatsTransport,
    RestTransport,
    SessionClient,
    WebSocketTransport,
)

TRANSPORTS = ("rest", "ws", "ethstats")
MODES = ("realistic", "max")


@dataclass
class Simulation:
    """What to simulate. ``credentials[i]`` belongs to agent i (one entry may serve all)."""

    url: str
    agents: int
    credentials: list[Credentials]
    transport: str = "rest"
    mode: str = "realistic"
    duration: float = 30.0
    auth_url: str = ""
    verify_tls: bool = False
    stamp: bool = True
    window: int = 64
    ramp: float = 1.0
    history_depth: int = DEFAULT_HISTORY_DEPTH
    limit_per_agent: int | None = None
    #: Max-rate mode: which calls (``simulator.agent.MIXES``) and an optional pace per agent.
    mix: str = "all"
    rate_per_agent: float | None = None
    id_prefix: str = field(default_factory=lambda: f"sim{random.randint(0, 99999):05d}")
    #: ethstats: the client profile (``simulator.ethstats.PROFILES``) and, when set, the shared
    #: secret every node gives (else each node logs in as its agent user, named as its id).
    profile: str = "go-ethereum"
    secret: str = ""

    def agent_id(self, index: int) -> str:
        return f"{self.id_prefix}-{index:05d}"


async def run_simulation(
    simulation: Simulation,
    recorder: Recorder | None = None,
    progress: Callable[[Recorder], None] | None = None,
    progress_interval: float = 1.0,
) -> Recorder:
    """Connect every agent (spread over ``ramp`` seconds), run them, say bye, and return the counts."""
    if simulation.transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}")
    if simulation.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if simulation.transport == "ethstats":
        return await run_ethstats(simulation, recorder or Recorder(), progress, progress_interval)
    recorder = recorder or Recorder()
    sessions = (
        SessionClient(simulation.auth_url, verify_tls=simulation.verify_tls) if simulation.auth_url else None
    )
    chain = Chain(history_depth=simulation.history_depth)
    agents: list[SimulatedAgent] = []
    for index in range(simulation.agents):
        credentials = simulation.credentials[index % len(simulation.credentials)]
        if len(simulation.credentials) < simulation.agents:
            credentials = Credentials(credentials.user, credentials.password, credentials.token)
        agent_id = simulation.agent_id(index)
        if simulation.transport == "rest":
            transport = RestTransport(simulation.url, agent_id, credentials, recorder, sessions)
        else:
            transport = WebSocketTransport(
                simulation.url, agent_id, credentials, recorder, sessions, window=simulation.window
            )
        agents.append(SimulatedAgent(index, agent_id, transport, chain, stamp=simulation.stamp))

    live = await open_all(agents, lambda agent: agent.transport.open(), simulation.ramp, recorder)

    recorder.started = time.monotonic()
    stop_at = recorder.started + simulation.duration

    async def run_agent(agent: SimulatedAgent) -> None:
        try:
            if simulation.mode == "realistic":
                await agent.run_realistic(stop_at)
            else:
                await agent.run_max_rate(
                    stop_at, simulation.limit_per_agent, simulation.mix, simulation.rate_per_agent
                )
        except (TimeoutError, OSError) as exc:
            recorder.error(f"{type(exc).__name__}")
        finally:
            try:
                await agent.transport.close()
            except OSError:
                pass

    return await run_all(
        [run_agent(agent) for agent in live], recorder, stop_at, progress, progress_interval
    )


async def run_ethstats(
    simulation: Simulation,
    recorder: Recorder,
    progress: Callable[[Recorder], None] | None = None,
    progress_interval: float = 1.0,
) -> Recorder:
    """Nodes of one client profile on the reference cadence (realistic mode only: ethstats
    reporters have no max rate, and the handler bans a node that floods)."""
    if simulation.mode != "realistic":
        raise ValueError("the ethstats transport runs the realistic cadence only")
    if simulation.profile not in PROFILES:
        raise ValueError(f"profile must be one of {tuple(PROFILES)}")
    profile_class = PROFILES[simulation.profile]
    nodes = []
    if not simulation.secret and len(simulation.credentials) < simulation.agents:
        raise ValueError("ethstats: give a shared secret, or one agent user per node")
    for index in range(simulation.agents):
        if simulation.secret:
            name, secret = simulation.agent_id(index), simulation.secret
        else:
            name, secret = simulation.credentials[index].user, simulation.credentials[index].password
        transport = EthstatsTransport(simulation.url, recorder)
        nodes.append(SimulatedNode(index, profile_class(name, secret), transport, stamp=simulation.stamp))

    live = await open_all(nodes, lambda node: node.open(), simulation.ramp, recorder)
    recorder.started = time.monotonic()
    stop_at = recorder.started + simulation.duration

    async def run_node(node: SimulatedNode) -> None:
        try:
            await node.run(stop_at)
        except (TimeoutError, OSError) as exc:
            recorder.error(type(exc).__name__)
        finally:
            try:
                await node.transport.close()
            except OSError:
                pass

    return await run_all([run_node(node) for node in live], recorder, stop_at, progress, progress_interval)


async def open_all(
    clients: list[Any], open_one: Callable[[Any], Awaitable[Any]], ramp: float, recorder: Recorder
) -> list[Any]:
    """Open every simulated client, spread over ``ramp`` seconds; those that cannot connect
    (or whose ``open`` answers False) are recorded as errors and left out."""

    async def open_after(client: Any, delay: float) -> bool:
        await asyncio.sleep(delay)
        try:
            return await open_one(client) is not False
        except (TimeoutError, OSError) as exc:
            recorder.error(f"connect: {type(exc).__name__}: {exc}"[:120])
            return False

    step = ramp / max(1, len(clients))
    opened = await asyncio.gather(*(open_after(client, i * step) for i, client in enumerate(clients)))
    return [client for client, ok in zip(clients, opened, strict=True) if ok]


async def run_all(
    runs: list[Coroutine[Any, Any, None]],
    recorder: Recorder,
    stop_at: float,
    progress: Callable[[Recorder], None] | None,
    progress_interval: float,
) -> Recorder:
    """Run every simulated client to the end, reporting ``progress`` every interval."""
    reporter = None
    if progress is not None:

        async def report() -> None:
            while True:
                await asyncio.sleep(progress_interval)
                progress(recorder)

        reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*runs)
    finally:
        # Rates are per second of load: answers still coming in after the end count, their wait not.
        recorder.finished = min(time.monotonic(), stop_at)
        if reporter is not None:
            reporter.cancel()
    return recorder
