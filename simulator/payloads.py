"""What a simulated agent sends: the reference agent's payload shapes with values that move.

Every agent of one simulation follows one shared chain (a real network has one head),
seen by each agent a little later or earlier; the per-agent values (peers, pending,
latency, cpu, ...) wander. Bodies are plain dicts; ``encode`` turns a whole call into
MessagePack with the large, shared bodies packed once per block, not once per agent.
"""

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack

ETHEREUM = "ethereum_metrics"
NETWORKING = "networking_metrics"
SYSTEM = "system_metrics"

#: Blocks in a ``history`` body; the reference agent's sample carries 3 (it sends up to 40).
DEFAULT_HISTORY_DEPTH = 3
BLOCK_INTERVAL = 5.0

_EXTRA_DATA = "0xde830201058f5061726974792d457468657265756d86312e33322e30826c69"
_SEAL = "0xb8413c7f0e0c4c5e3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a700"  # noqa: E501
_SHA3_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
_DIFFICULTY = 340282366920938463463374607431768211454


def _hex(seed: str, length: int = 64) -> str:
    return "0x" + hashlib.sha256(seed.encode()).hexdigest()[:length]


class Packed:
    """A body packed once to MessagePack, spliced into every call that carries it."""

    __slots__ = ("body", "packed")

    def __init__(self, body: Any) -> None:
        self.body = body
        self.packed = msgpack.packb(body)


@dataclass
class Chain:
    """The network's chain: a new head every ``interval`` seconds, each block shaped like the sample."""

    interval: float = BLOCK_INTERVAL
    history_depth: int = DEFAULT_HISTORY_DEPTH
    number: int = 5_123_457
    started: float = field(default_factory=time.time)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    block: Packed | None = None
    history: Packed | None = None
    _base: int = 0

    def __post_init__(self) -> None:
        self.number -= self.history_depth
        for _ in range(max(self.history_depth, 1)):
            self._advance(self.started)
        self._base = self.number

    def _advance(self, now: float) -> None:
        self.number += 1
        parent = self.blocks[-1]["hash"] if self.blocks else _hex(f"block-{self.number - 1}")
        miner = _hex(f"miner-{self.number % 7}", 40)
        transactions = [_hex(f"tx-{self.number}-{i}") for i in range(random.randint(0, 3))]
        body = {
            "author": miner,
            "difficulty": str(_DIFFICULTY),
            "extraData": _EXTRA_DATA,
            "gasLimit": 10_000_000,
            "gasUsed": 21_000 * len(transactions),
            "hash": _hex(f"block-{self.number}"),
            "miner": miner,
            "number": self.number,
            "parentHash": parent,
            "receiptsRoot": _hex(f"receipts-{self.number}"),
            "sealFields": ["0x84147d0a58", _SEAL],
            "sha3Uncles": _SHA3_UNCLES,
            "signature": _SEAL[4:],
            "size": 600 + 141 * len(transactions),
            "stateRoot": _hex(f"state-{self.number}"),
            "step": str(int(now / self.interval)),
            "timestamp": int(now),
            "totalDifficulty": str(_DIFFICULTY * self.number),
            "transactions": transactions,
            "transactionsRoot": _hex(f"transactions-{self.number}"),
            "uncles": [],
        }
        self.blocks = [*self.blocks, body][-max(self.history_depth, 1) :]
        self.block = Packed(body)
        self.history = Packed({"history": list(reversed(self.blocks[-self.history_depth :]))})

    def head(self, now: float) -> int:
        """The head number at ``now`` (advancing the chain as time passes)."""
        due = self._base + int((now - self.started) / self.interval)
        while self.number < due:
            self._advance(self.started + (self.number - self._base + 1) * self.interval)
        return self.number


@dataclass
class AgentState:
    """One agent's own wandering values."""

    agent_id: str
    peers: int = field(default_factory=lambda: random.randint(3, 25))
    pending: int = 0
    cpu: float = field(default_factory=lambda: random.uniform(2.0, 30.0))
    memory: float = field(default_factory=lambda: random.uniform(20.0, 60.0))
    disk: int = field(default_factory=lambda: random.randint(20, 80))
    started: float = field(default_factory=time.time)
    syncing: bool = False

    def information(self) -> dict[str, Any]:
        return {
            "name": self.agent_id,
            "contact": "ops@example.org",
            "coinbase": _hex(f"coinbase-{self.agent_id}", 40),
            "node": "Parity-Ethereum//v2.0.5-stable-7dfa57999-20180914/x86_64-linux-gnu/rustc1.29.0",
            "net": "99",
            "protocol": 63,
            "api": "",
            "ip": f"10.0.{hash(self.agent_id) % 250}.{random.randint(2, 250)}",
            "port": "",
            "os": "linux",
            "os_v": "5.15.0",
            "client": "0.1.0",
            "canUpdateHistory": True,
        }

    def statistics(self, head: int) -> dict[str, Any]:
        self.peers = max(0, min(50, self.peers + random.randint(-1, 1)))
        syncing: bool | dict[str, str] = False
        if self.syncing:
            syncing = {"startingBlock": "0x0", "currentBlock": hex(head - 100), "highestBlock": hex(head)}
        return {
            "active": True,
            "mining": not self.syncing,
            "hashrate": 0,
            "peers": self.peers,
            "gasPrice": 1_000_000_000,
            "syncing": syncing,
            "uptime": 100,
        }

    def system_statistics(self) -> dict[str, Any]:
        self.cpu = max(0.0, min(100.0, self.cpu + random.uniform(-3.0, 3.0)))
        self.memory = max(0.0, min(100.0, self.memory + random.uniform(-0.5, 0.5)))
        return {
            "cpu_load": round(self.cpu, 2),
            "memory_usage": round(self.memory, 2),
            "disk_usage": self.disk,
        }

    def next_pending(self) -> int | None:
        """The pending count now, or None when it did not change."""
        value = max(0, self.pending + random.choice((-2, -1, 0, 0, 1, 2)))
        if value == self.pending:
            return None
        self.pending = value
        return value


_CALL_KEYS = {key: msgpack.packb(key) for key in ("id", "type", "data", "call", "ref", "body", "ts", "seq")}


def encode_data_call(
    agent_id: str,
    metric_type: str,
    kind: str,
    body: Any,
    *,
    stamp: tuple[float, int] | None = None,
    call: str | None = None,
    ref: int | None = None,
) -> bytes:
    """A ``/data`` body (or a WebSocket ``data`` frame when ``call`` is given) as MessagePack.

    ``stamp`` = (send time, sequence) rides in ``data`` beside ``type`` and ``body``: receivers
    pass ``data`` on unchanged, so a dashboard can tell when each message left and whether any
    is missing. A ``Packed`` body is spliced in as already-packed bytes.
    """
    k = _CALL_KEYS
    data_fields = 2 + (2 if stamp else 0)
    data = bytearray()
    data += bytes((0x80 | data_fields,))
    if stamp:
        data += k["ts"] + msgpack.packb(stamp[0]) + k["seq"] + msgpack.packb(stamp[1])
    data += k["type"] + msgpack.packb(kind) + k["body"]
    data += body.packed if isinstance(body, Packed) else msgpack.packb(body)
    fields = 3 + (1 if call else 0) + (1 if ref is not None else 0)
    out = bytearray((0x80 | fields,))
    if call:
        out += k["call"] + msgpack.packb(call)
    out += k["id"] + msgpack.packb(agent_id) + k["type"] + msgpack.packb(metric_type)
    if ref is not None:
        out += k["ref"] + msgpack.packb(ref)
    out += k["data"] + data
    return bytes(out)


def encode_simple_call(agent_id: str, *, call: str | None = None, ref: int | None = None) -> bytes:
    """A ``/ping`` or ``/bye`` body (or WebSocket frame when ``call`` is given) as MessagePack."""
    message: dict[str, Any] = {}
    if call:
        message["call"] = call
    message["id"] = agent_id
    if ref is not None:
        message["ref"] = ref
    return msgpack.packb(message)
