"""A simulated agent: the reference agent's calls on its cadence, or as fast as answers allow.

Realistic cadence (protocol section 4): ``information`` at start and every 60 s; a ping
every 3 s, followed by a ``latency`` message with its round trip when it succeeded;
``statistics`` and system ``statistics`` every 5 s; ``block`` and ``history`` whenever the
head moves (polled every 0.5 s, a new block about every 5 s); ``pending`` when it changed.
Each agent starts at a random phase so a thousand of them do not beat in step.
"""

import asyncio
import random
import time
from itertools import cycle
from typing import Any

from simulator.payloads import (
    ETHEREUM,
    NETWORKING,
    SYSTEM,
    AgentState,
    Chain,
    encode_data_call,
    encode_simple_call,
)
from simulator.stats import stamp_key

PING_INTERVAL = 3.0
STATISTICS_INTERVAL = 5.0
INFORMATION_INTERVAL = 60.0
POLL_INTERVAL = 0.5
PENDING_CHANGE_CHANCE = 0.1

#: Metric types the dashboard feed is subscribed to by default (its frames are checked for loss).
DASHBOARD_TYPES = frozenset({ETHEREUM, NETWORKING})

#: The realistic mix, in proportion, for max-rate mode (per 60 s of one agent).
MAX_RATE_MIX = (
    [("statistics", ETHEREUM)] * 12
    + [("statistics", SYSTEM)] * 12
    + [("latency", NETWORKING)] * 20
    + [("block", ETHEREUM)] * 12
    + [("history", ETHEREUM)] * 12
    + [("pending", ETHEREUM)] * 12
    + [("information", ETHEREUM)]
)

#: Which calls of the mix each max-rate flavour sends.
MIXES = {
    "all": lambda item: True,
    "dashboard": lambda item: item[1] in DASHBOARD_TYPES,
    "statistics": lambda item: item[0] == "statistics",
}


class SimulatedAgent:
    def __init__(
        self,
        index: int,
        agent_id: str,
        transport: Any,
        chain: Chain,
        *,
        stamp: bool = True,
    ) -> None:
        self.index = index
        self.agent_id = agent_id
        self.transport = transport
        self.chain = chain
        self.state = AgentState(agent_id)
        self.stamp = stamp
        self.seq = 0

    async def data(self, metric_type: str, kind: str, body: Any, wait: bool = True) -> None:
        """One ``/data`` call; stamped so dashboards can time it and notice if it went missing."""
        stamp = key = None
        if self.stamp:
            self.seq += 1
            stamp = (time.time(), self.seq)
            if metric_type in DASHBOARD_TYPES:
                key = stamp_key(self.index, self.seq)
        agent_id = self.agent_id

        def encode(ref: int | None) -> bytes:
            call = "data" if ref is not None else None
            return encode_data_call(agent_id, metric_type, kind, body, stamp=stamp, call=call, ref=ref)

        if self.transport.pipelined:
            await self.transport.call("data", encode, key, wait=wait)
        else:
            await self.transport.call("data", encode, key)

    async def ping(self) -> float | None:
        agent_id = self.agent_id

        def encode(ref: int | None) -> bytes:
            return encode_simple_call(agent_id, call="ping" if ref is not None else None, ref=ref)

        return await self.transport.call("ping", encode)

    async def bye(self) -> None:
        agent_id = self.agent_id

        def encode(ref: int | None) -> bytes:
            return encode_simple_call(agent_id, call="bye" if ref is not None else None, ref=ref)

        await self.transport.call("bye", encode)

    def _body(self, kind: str, metric_type: str, head: int) -> Any:
        state = self.state
        if kind == "information":
            return state.information()
        if kind == "statistics":
            return state.system_statistics() if metric_type == SYSTEM else state.statistics(head)
        if kind == "block":
            return self.chain.block
        if kind == "history":
            return self.chain.history
        if kind == "pending":
            state.pending += 1
            return {"pending": state.pending}
        return {"latency": random.randint(1, 80)}

    async def run_realistic(self, stop_at: float) -> None:
        """The reference agent's cadence until ``stop_at`` (monotonic), then ``bye``."""
        wait = not self.transport.pipelined
        now = time.monotonic()
        next_ping = now + random.uniform(0, PING_INTERVAL)
        next_statistics = now + random.uniform(0, STATISTICS_INTERVAL)
        next_information = now + INFORMATION_INTERVAL
        next_poll = now + random.uniform(0, POLL_INTERVAL)
        seen_head = self.chain.head(time.time())
        await self.data(ETHEREUM, "information", self.state.information(), wait)
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            if now >= next_ping:
                next_ping += PING_INTERVAL
                round_trip = await self.ping()
                if round_trip is not None:
                    await self.data(NETWORKING, "latency", {"latency": int(round_trip * 1000)}, wait)
            if now >= next_statistics:
                next_statistics += STATISTICS_INTERVAL
                await self.data(ETHEREUM, "statistics", self.state.statistics(seen_head), wait)
                await self.data(SYSTEM, "statistics", self.state.system_statistics(), wait)
            if now >= next_information:
                next_information += INFORMATION_INTERVAL
                await self.data(ETHEREUM, "information", self.state.information(), wait)
            if now >= next_poll:
                next_poll += POLL_INTERVAL
                head = self.chain.head(time.time())
                if head != seen_head:
                    seen_head = head
                    await self.data(ETHEREUM, "block", self.chain.block, wait)
                    await self.data(ETHEREUM, "history", self.chain.history, wait)
                if random.random() < PENDING_CHANGE_CHANCE:
                    pending = self.state.next_pending()
                    if pending is not None:
                        await self.data(ETHEREUM, "pending", {"pending": pending}, wait)
            delay = min(next_ping, next_statistics, next_information, next_poll) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(min(delay, max(0.0, stop_at - time.monotonic())))
        await self.bye()

    async def run_max_rate(
        self,
        stop_at: float,
        limit: int | None = None,
        mix: str = "all",
        rate: float | None = None,
    ) -> None:
        """``/data`` calls of the ``mix`` (see ``MIXES``) back to back, pipelined over WebSocket, or
        ``rate`` a second; until ``stop_at`` (monotonic) or ``limit`` calls."""
        kinds = [item for item in MAX_RATE_MIX if MIXES[mix](item)]
        random.shuffle(kinds)
        head = self.chain.head(time.time())
        sent = 0
        wait = not self.transport.pipelined
        interval = 1.0 / rate if rate else 0.0
        next_at = time.monotonic() + random.uniform(0, interval)
        for kind, metric_type in cycle(kinds):
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += interval
            if time.monotonic() >= stop_at or (limit is not None and sent >= limit):
                break
            if sent % 64 == 0:
                head = self.chain.head(time.time())
            await self.data(metric_type, kind, self._body(kind, metric_type, head), wait)
            sent += 1
