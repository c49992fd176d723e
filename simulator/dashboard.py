"""Simulated dashboards: connect to the dashboard feed and time every stamped frame.

A frame is ``{"agent_id": ..., "data": {...as the agent sent it...}}``; simulated agents
put ``ts`` (send time) and ``seq`` first in ``data``, so both are found with one short
regular-expression search instead of decoding frames that may carry whole blocks.
"""

import asyncio
import json
import re
import time

from simulator.stats import DeliveryRecorder, stamp_key
from simulator.wire import WebSocket

_AGENT = re.compile(rb'"agent_id"\s*:\s*"[^"]*-(\d+)"')
_STAMP = re.compile(rb'"ts"\s*:\s*([0-9.eE+-]+)\s*,\s*"seq"\s*:\s*(\d+)')


class Dashboard:
    def __init__(self, url: str, secret: str, recorder: DeliveryRecorder | None = None) -> None:
        self.url = url
        self.secret = secret
        self.recorder = recorder or DeliveryRecorder()
        self.websocket: WebSocket | None = None

    async def connect(self) -> None:
        self.websocket = await WebSocket.connect(self.url, self._frame, headers={"wssecret": self.secret})
        self.recorder.connected_at = time.time()

    def _frame(self, opcode: int, payload: bytes) -> None:
        now = time.time()
        recorder = self.recorder
        recorder.frames += 1
        head = payload[:400]
        agent = _AGENT.search(head)
        stamp = _STAMP.search(head)
        if agent is None or stamp is None:
            if b'"seq"' not in payload:
                return
            try:  # keys in another order: decode the whole frame
                frame = json.loads(payload)
                index = int(str(frame["agent_id"]).rsplit("-", 1)[1])
                sent, seq = float(frame["data"]["ts"]), int(frame["data"]["seq"])
            except (ValueError, KeyError, IndexError, TypeError):
                return
        else:
            index, sent, seq = int(agent.group(1)), float(stamp.group(1)), int(stamp.group(2))
        if sent < recorder.connected_at:
            return  # catch-up of what was sent before this dashboard connected
        recorder.stamped += 1
        recorder.latencies.append(max(0.0, now - sent))
        recorder.sent_at.append(sent)
        recorder.received_keys.add(stamp_key(index, seq))

    async def close(self) -> None:
        if self.websocket is not None:
            await self.websocket.close()


async def connect_dashboards(url: str, secret: str, count: int, ramp: float = 1.0) -> list[Dashboard]:
    """``count`` connected dashboards (each with its own recorder)."""
    dashboards = [Dashboard(url, secret) for _ in range(count)]
    step = ramp / max(1, count)

    async def connect(dashboard: Dashboard, delay: float) -> None:
        await asyncio.sleep(delay)
        await dashboard.connect()

    await asyncio.gather(*(connect(dashboard, i * step) for i, dashboard in enumerate(dashboards)))
    return dashboards
