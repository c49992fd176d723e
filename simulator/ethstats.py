"""What each Ethereum client's built-in ethstats reporter sends, frame by frame.

Each profile is written from that client's own source (cited on the class) and renders
one chain block, stats and pings the way that client puts them on the wire: the
same event names, keys, JSON types (numbers, decimal or ``0x`` strings) and quirks.
The simulator and the tests use them; nothing here knows the backend's translation.
``SimulatedNode`` runs a profile on the reference cadence for ``simulateagents`` and the bench.
"""

import asyncio
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.stats import stamp_key

# Post-merge mainnet total difficulty: above 2^64, so never a float.
MAINNET_TD = 58750003716598352816469


def _hex(seed: str, length: int = 64) -> str:
    return "0x" + hashlib.sha256(seed.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class ChainBlock:
    """A block as a node knows it; profiles render it in their client's shape."""

    number: int
    timestamp: int
    gas_used: int = 15_123_456
    gas_limit: int = 36_000_000
    difficulty: int = 0
    total_difficulty: int = MAINNET_TD
    miner: str = "0x95222290DD7278Aa3Ddd389Cc1E1d165CC4BAfe5"  # EIP-55 form
    transactions: int = 3
    size: int = 54_321

    @property
    def hash(self) -> str:
        return _hex(f"block-{self.number}")

    @property
    def parent_hash(self) -> str:
        return _hex(f"block-{self.number - 1}")

    @property
    def state_root(self) -> str:
        return _hex(f"state-{self.number}")

    @property
    def transactions_root(self) -> str:
        return _hex(f"txroot-{self.number}")

    @property
    def transaction_hashes(self) -> list[str]:
        return [_hex(f"tx-{self.number}-{index}") for index in range(self.transactions)]


def block_at(number: int, start: int = 1_749_558_896, interval: int = 12) -> ChainBlock:
    return ChainBlock(number=number, timestamp=start + (number % 100_000) * interval)


@dataclass(frozen=True)
class NodeState:
    """What a node reports besides blocks."""

    peers: int = 50
    pending: int = 142
    gas_price: int = 1_234_567_890
    syncing: bool = False
    uptime: int = 100


def emit(event: str, payload: Any) -> str:
    return json.dumps({"emit": [event, payload]}, separators=(",", ":"))


@dataclass
class Profile:
    """One client's reporter; ``name`` is its node name (the ``--ethstats`` flag's first part)."""

    name: str
    secret: str
    #: Seconds between full reports (node-ping, block, pending, stats).
    report_interval: float = 15.0
    #: Whether it waits for ``ready`` before reporting.
    waits_for_ready: bool = True
    client: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def node_id(self) -> str:
        return self.name

    def hello(self) -> str:
        return emit("hello", {"id": self.node_id, "info": self.info(), "secret": self.secret})

    def info(self) -> dict[str, Any]:
        raise NotImplementedError

    def node_ping(self) -> str:
        raise NotImplementedError

    def latency(self, milliseconds: int) -> str:
        raise NotImplementedError

    def block(self, block: ChainBlock) -> str:
        raise NotImplementedError

    def pending(self, state: NodeState) -> str:
        return emit("pending", {"id": self.node_id, "stats": {"pending": state.pending}})

    def stats(self, state: NodeState) -> str:
        raise NotImplementedError

    def history(self, blocks: list[ChainBlock]) -> str:
        """The answer to a history request for ``blocks`` (in the order the client sends them)."""
        raise NotImplementedError

    def report(self, block: ChainBlock, state: NodeState, latency_ms: int = 3) -> list[str]:
        """One full report, in the client's order."""
        return [
            self.node_ping(),
            self.latency(latency_ms),
            self.block(block),
            self.pending(state),
            self.stats(state),
        ]


class GoEthereum(Profile):
    """go-ethereum ``ethstats/ethstats.go`` (``login``, ``reportLatency``, ``assembleBlockStats``,
    ``reportPending``, ``reportStats``, ``reportHistory``): Go ``encoding/json``, keys sorted,
    every frame ending with a newline (``json.Encoder``); ``totalDifficulty`` always ``"0"``
    since v1.15; ``stats`` without mining and hashrate; latency a string."""

    client = "go-ethereum"

    def _frame(self, event: str, payload: dict[str, Any]) -> str:
        return json.dumps({"emit": [event, payload]}, sort_keys=True, separators=(",", ":")) + "\n"

    def hello(self) -> str:
        return self._frame("hello", {"id": self.name, "info": self.info(), "secret": self.secret})

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": "Geth/v1.16.1-stable-12b4131f/linux-amd64/go1.24.4",
            "port": 30303,
            "net": "1",
            "protocol": "eth/68, eth/69",
            "api": "No",
            "os": "linux",
            "os_v": "amd64",
            "client": "0.1.1",
            "canUpdateHistory": True,
        }

    def node_ping(self) -> str:
        monotonic = time.monotonic() - self.started
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f000 +0000 UTC")
        return self._frame("node-ping", {"clientTime": f"{now} m=+{monotonic:.9f}", "id": self.name})

    def latency(self, milliseconds: int) -> str:
        return self._frame("latency", {"id": self.name, "latency": str(milliseconds)})

    def block_body(self, block: ChainBlock) -> dict[str, Any]:
        return {
            "number": block.number,
            "hash": block.hash,
            "parentHash": block.parent_hash,
            "timestamp": block.timestamp,
            "miner": block.miner.lower(),
            "gasUsed": block.gas_used,
            "gasLimit": block.gas_limit,
            "difficulty": str(block.difficulty),
            "totalDifficulty": "0",
            "transactions": [{"hash": tx} for tx in block.transaction_hashes],
            "transactionsRoot": block.transactions_root,
            "stateRoot": block.state_root,
            "uncles": [],
        }

    def block(self, block: ChainBlock) -> str:
        return self._frame("block", {"block": self.block_body(block), "id": self.name})

    def pending(self, state: NodeState) -> str:
        return self._frame("pending", {"id": self.name, "stats": {"pending": state.pending}})

    def stats(self, state: NodeState) -> str:
        stats = {
            "active": True,
            "syncing": state.syncing,
            "peers": state.peers,
            "gasPrice": state.gas_price,
            "uptime": state.uptime,
        }
        return self._frame("stats", {"id": self.name, "stats": stats})

    def history(self, blocks: list[ChainBlock]) -> str:
        newest_first = sorted(blocks, key=lambda block: block.number, reverse=True)
        return self._frame(
            "history", {"history": [self.block_body(b) for b in newest_first], "id": self.name}
        )

    def new_payload(self, block: ChainBlock) -> str:
        """``reportNewPayload`` (v1.17): ignored by eth-netstats; processing time in nanoseconds."""
        payload = {"block": {"number": block.number, "hash": block.hash, "processingTime": 48_123_456}}
        return self._frame("block_new_payload", {**payload, "id": self.name})


class Besu(Profile):
    """Besu ``ethereum/ethstats/src/main/java/org/hyperledger/besu/ethstats/EthStatsService.java``
    (``sendHello``, ``sendPing``, ``sendLatencyReport``, ``sendBlockReport``, ``sendNodeStatsReport``,
    ``sendHistoryReport``): ``id`` is the enode key, ``port`` a string, blocks in JSON-RPC shape
    with every quantity in ``0x`` hex and full transactions, no ``totalDifficulty`` after the
    merge, ``syncing`` true when in sync, ``clientTime`` and latency strings; every 5 s."""

    client = "besu"
    report_interval = 5.0
    contact = "ops@example.org"

    @property
    def node_id(self) -> str:
        return "0x" + hashlib.sha512(f"enode-{self.name}".encode()).hexdigest()

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": "besu/v25.10.0/linux-x86_64/openjdk-java-21",
            "port": "30303",
            "net": "1",
            "protocol": "[eth/68, eth/69]",
            "api": "No",
            "os": "linux",
            "os_v": "x86_64",
            "client": "0.1.1",
            "canUpdateHistory": True,
            "contact": self.contact,
        }

    def hello(self) -> str:
        return emit("hello", {"id": self.node_id, "secret": self.secret, "info": self.info()})

    def node_ping(self) -> str:
        return emit("node-ping", {"id": self.node_id, "clientTime": str(int(time.time() * 1000))})

    def latency(self, milliseconds: int) -> str:
        return emit("latency", {"id": self.node_id, "latency": str(milliseconds)})

    def block_body(self, block: ChainBlock) -> dict[str, Any]:
        body: dict[str, Any] = {
            "number": hex(block.number),
            "hash": block.hash,
            "mixHash": _hex(f"mix-{block.number}"),
            "parentHash": block.parent_hash,
            "nonce": "0x0000000000000000",
            "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "logsBloom": "0x" + "00" * 256,
            "transactionsRoot": block.transactions_root,
            "stateRoot": block.state_root,
            "receiptsRoot": _hex(f"receipts-{block.number}"),
            "miner": block.miner.lower(),
            "difficulty": hex(block.difficulty),
            "extraData": "0x626573750a",
            "baseFeePerGas": "0x3b9aca00",
            "size": hex(block.size),
            "gasLimit": hex(block.gas_limit),
            "gasUsed": hex(block.gas_used),
            "timestamp": hex(block.timestamp),
            "uncles": [],
            "transactions": [
                {
                    "blockHash": block.hash,
                    "blockNumber": hex(block.number),
                    "from": "0x" + "11" * 20,
                    "gas": "0x5208",
                    "gasPrice": "0x3b9aca00",
                    "hash": tx,
                    "input": "0x",
                    "nonce": hex(index),
                    "to": "0x" + "22" * 20,
                    "transactionIndex": hex(index),
                    "value": "0xde0b6b3a7640000",
                    "type": "0x2",
                    "accessList": [],
                    "chainId": "0x1",
                }
                for index, tx in enumerate(block.transaction_hashes)
            ],
            "withdrawalsRoot": _hex(f"withdrawals-{block.number}"),
            "withdrawals": [],
        }
        if block.difficulty:  # @JsonInclude(NON_ABSENT): no totalDifficulty after the merge
            body["totalDifficulty"] = hex(block.total_difficulty)
        return body

    def block(self, block: ChainBlock) -> str:
        return emit("block", {"id": self.node_id, "block": self.block_body(block)})

    def stats(self, state: NodeState) -> str:
        stats = {
            "active": True,
            "mining": False,
            "hashrate": 0,
            "peers": state.peers,
            "gasPrice": state.gas_price,
            "syncing": not state.syncing,  # syncState.isInSync(): true when in sync
            "uptime": state.uptime,
        }
        return emit("stats", {"id": self.node_id, "stats": stats})

    def history(self, blocks: list[ChainBlock]) -> str:
        return emit("history", {"id": self.node_id, "history": [self.block_body(b) for b in blocks]})


class Nethermind(Profile):
    """Nethermind ``src/Nethermind/Nethermind.EthStats`` (``EthStatsStep``, ``Messages/*.cs``,
    ``Models/Info.cs``, ``Models/Block.cs``, ``Integrations/EthStatsIntegration.cs``): ``id`` is
    ``Name-0x<keccak>``, ``os_V`` with a capital V, ``api`` ``"no"``, ``canUpdateHistory``
    false, does not wait for ``ready``, ``uncles`` as empty objects, numbers as numbers."""

    client = "nethermind"
    waits_for_ready = False

    @property
    def node_id(self) -> str:
        return f"{self.name}-{_hex(f'enode-{self.name}')}"

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": "Nethermind/v1.33.0/linux-x64/dotnet9.0.5",
            "port": 30303,
            "net": "1",
            "protocol": "eth/69,eth/68",
            "api": "no",
            "os": "Linux",
            "os_V": "X64",
            "client": "0.1.1",
            "contact": "hello@nethermind.io",
            "canUpdateHistory": False,
        }

    def hello(self) -> str:
        return emit("hello", {"id": self.node_id, "secret": self.secret, "info": self.info()})

    def node_ping(self) -> str:
        return emit("node-ping", {"id": self.node_id, "clientTime": int(time.time() * 1000)})

    def latency(self, milliseconds: int) -> str:
        return emit("latency", {"id": self.node_id, "latency": milliseconds})

    def block_body(self, block: ChainBlock) -> dict[str, Any]:
        return {
            "number": block.number,
            "hash": block.hash,
            "parentHash": block.parent_hash,
            "timestamp": block.timestamp,
            "miner": block.miner.lower(),
            "gasUsed": block.gas_used,
            "gasLimit": block.gas_limit,
            "difficulty": str(block.difficulty),
            "totalDifficulty": str(block.total_difficulty),
            "transactions": [{"hash": tx} for tx in block.transaction_hashes],
            "transactionsRoot": block.transactions_root,
            "stateRoot": block.state_root,
            "uncles": [],
        }

    def block(self, block: ChainBlock) -> str:
        return emit("block", {"id": self.node_id, "block": self.block_body(block)})

    def stats(self, state: NodeState) -> str:
        stats = {
            "active": True,
            "syncing": state.syncing,
            "mining": False,
            "hashrate": 0,
            "peers": state.peers,
            "gasPrice": state.gas_price,
            "uptime": state.uptime,
        }
        return emit("stats", {"id": self.node_id, "stats": stats})

    def history(self, blocks: list[ChainBlock]) -> str:
        ascending = sorted(blocks, key=lambda block: block.number)[-64:]
        return emit("history", {"id": self.node_id, "history": [self.block_body(b) for b in ascending]})

    def report(self, block: ChainBlock, state: NodeState, latency_ms: int = 3) -> list[str]:
        # TimerOnElapsed: stats, node-ping, pending; blocks on new heads; latency on the pong.
        return [
            self.stats(state),
            self.node_ping(),
            self.pending(state),
            self.latency(latency_ms),
            self.block(block),
        ]


class Reth(GoEthereum):
    """reth ``crates/node/ethstats/src/ethstats.rs`` and ``events.rs`` (``login``, ``send_ping``,
    ``report_latency``, ``block_to_stats``): ``number``/``timestamp`` as ``0x`` hex (U256),
    ``miner`` EIP-55, latency a number, ``clientTime`` a chrono string; no trailing newline."""

    client = "reth"

    def _frame(self, event: str, payload: dict[str, Any]) -> str:
        return json.dumps({"emit": [event, payload]}, separators=(",", ":"))

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "node": "reth/v1.10.0-abc1234/x86_64-unknown-linux-gnu",
            "os_v": "x86_64",
        }

    def node_ping(self) -> str:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f +00:00 +00:00")
        return self._frame("node-ping", {"id": self.name, "clientTime": now})

    def latency(self, milliseconds: int) -> str:
        return self._frame("latency", {"id": self.name, "latency": milliseconds})

    def block_body(self, block: ChainBlock) -> dict[str, Any]:
        return {
            **super().block_body(block),
            "number": hex(block.number),
            "timestamp": hex(block.timestamp),
            "miner": block.miner,
        }

    def history(self, blocks: list[ChainBlock]) -> str:
        ascending = sorted(blocks, key=lambda block: block.number)
        return self._frame("history", {"id": self.name, "history": [self.block_body(b) for b in ascending]})


class Erigon(GoEthereum):
    """Erigon ``ethstats/ethstats.go`` (a go-ethereum fork, same wire code): ``port`` always 0,
    ``stats`` with ``mining`` and ``hashrate``, ``gasPrice`` 0, the real total difficulty."""

    client = "erigon"

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "node": "erigon/3.0.4/linux-amd64/go1.23.6",
            "port": 0,
            "protocol": "eth/68, eth/67",
        }

    def block_body(self, block: ChainBlock) -> dict[str, Any]:
        return {**super().block_body(block), "totalDifficulty": str(block.total_difficulty)}

    def stats(self, state: NodeState) -> str:
        stats = {
            "active": True,
            "syncing": state.syncing,
            "mining": False,
            "hashrate": 0,
            "peers": state.peers,
            "gasPrice": 0,
            "uptime": state.uptime,
        }
        return self._frame("stats", {"id": self.name, "stats": stats})


class NodeAgent(Profile):
    """eth-net-intelligence-api ``lib/node.js`` (Primus 4, primus-emit): ``id`` is
    ``camelCase(name)``, web3 0.15 blocks (numbers, transactions and uncles as hash strings,
    decimal difficulties), ``gasPrice`` a decimal string, ``syncing`` false or an object,
    node-ping every 3 s with a number, latency a number."""

    client = "eth-net-intelligence-api"
    report_interval = 5.0

    @property
    def node_id(self) -> str:
        head, *rest = self.name.replace("_", "-").split("-")
        return head.lower() + "".join(part.capitalize() for part in rest)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "contact": "",
            "coinbase": "0x" + "33" * 20,
            "node": "Geth/v1.10.26-stable/linux-amd64/go1.18.5",
            "net": "1",
            "protocol": 66,
            "api": "0.15.3",
            "port": 30303,
            "os": "linux",
            "os_v": "5.15.0-105-generic",
            "client": "0.1.1",
            "canUpdateHistory": True,
        }

    def node_ping(self) -> str:
        return emit("node-ping", {"id": self.node_id, "clientTime": int(time.time() * 1000)})

    def latency(self, milliseconds: int) -> str:
        return emit("latency", {"id": self.node_id, "latency": milliseconds})

    def block_body(self, block: ChainBlock) -> dict[str, Any]:
        return {
            "difficulty": str(block.difficulty),
            "extraData": "0x",
            "gasLimit": block.gas_limit,
            "gasUsed": block.gas_used,
            "hash": block.hash,
            "miner": block.miner.lower(),
            "mixHash": _hex(f"mix-{block.number}"),
            "nonce": "0x0000000000000000",
            "number": block.number,
            "parentHash": block.parent_hash,
            "receiptsRoot": _hex(f"receipts-{block.number}"),
            "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "size": block.size,
            "stateRoot": block.state_root,
            "timestamp": block.timestamp,
            "totalDifficulty": str(block.total_difficulty),
            "transactions": block.transaction_hashes,
            "transactionsRoot": block.transactions_root,
            "uncles": [],
        }

    def block(self, block: ChainBlock) -> str:
        return emit("block", {"id": self.node_id, "block": self.block_body(block)})

    def stats(self, state: NodeState) -> str:
        syncing: Any = {"startingBlock": 1, "currentBlock": 5, "highestBlock": 9, "progress": 0.5}
        stats = {
            "active": True,
            "syncing": syncing if state.syncing else False,
            "mining": False,
            "hashrate": 0,
            "peers": state.peers,
            "gasPrice": str(state.gas_price),
            "uptime": state.uptime,
        }
        return emit("stats", {"id": self.node_id, "stats": stats})

    def history(self, blocks: list[ChainBlock]) -> str:
        ordered = list(reversed(blocks))  # getHistory reverse()s the requested list
        return emit("history", {"id": self.node_id, "history": [self.block_body(b) for b in ordered]})


PROFILES: dict[str, type[Profile]] = {
    "go-ethereum": GoEthereum,
    "besu": Besu,
    "nethermind": Nethermind,
    "reth": Reth,
    "erigon": Erigon,
    "eth-net-intelligence-api": NodeAgent,
}


#: The reference cadence (go-ethereum's ``report()``): node-ping, latency, pending and stats
#: every 15 s; a block on each new head (about every 5 s here, as the POA chain's).
REPORT_INTERVAL = 15.0
BLOCK_INTERVAL = 5.0
#: Seconds between the first and the last node seeing a new head.
PROPAGATION = 1.0
#: The chain head of every simulated node: one network, one head.
GENESIS_TIME = 1_700_000_000.0
FIRST_BLOCK = 22_000_000


def head_at(now: float) -> int:
    return FIRST_BLOCK + int((now - GENESIS_TIME) // BLOCK_INTERVAL)


class SimulatedNode:
    """One node's reporter on the reference cadence, over an ``EthstatsTransport``.

    Blocks carry ``ts`` and ``seq`` as their first keys (blocks pass to the dashboards
    unchanged but for their quantities), so dashboards can time them and count losses.
    """

    def __init__(self, index: int, profile: Profile, transport: Any, *, stamp: bool = True) -> None:
        self.index = index
        self.profile = profile
        self.transport = transport
        self.stamp = stamp
        self.seq = 0
        self.state = NodeState(peers=20 + index % 30, pending=index % 200)
        transport.on_history = self._answer_history

    async def open(self) -> bool:
        return await self.transport.open(self.profile.hello(), self.profile.waits_for_ready)

    def _answer_history(self, request: Any) -> None:
        numbers = request.get("list") if isinstance(request, dict) else None
        if isinstance(numbers, list) and numbers:
            self.transport.send(self.profile.history([block_at(n) for n in numbers]), "history")

    def _block_frame(self, number: int) -> tuple[str, int | None]:
        frame = self.profile.block(block_at(number))
        if not self.stamp:
            return frame, None
        self.seq += 1
        stamped = f'"block":{{"ts":{time.time():.6f},"seq":{self.seq},'
        return frame.replace('"block":{', stamped, 1), stamp_key(self.index, self.seq)

    async def report(self) -> None:
        """One full report: node-ping (its round trip becomes the latency), pending, stats."""
        round_trip = await self.transport.ping(self.profile.node_ping())
        if round_trip is not None:
            self.transport.send(self.profile.latency(max(1, int(round_trip * 500))), "latency")
        self.transport.send(self.profile.pending(self.state), "pending")
        self.transport.send(self.profile.stats(self.state), "stats")

    async def run(self, stop_at: float) -> None:
        """Report on the cadence until ``stop_at`` (monotonic); a block whenever the head moves.

        Each node sees a new head ``lag`` seconds after it is made (propagation: up to
        ``PROPAGATION`` apart), so a thousand nodes do not send each block at one instant.
        """
        lag = random.uniform(0, PROPAGATION)
        seen = head_at(time.time() - lag)  # the first block goes out at the next head
        next_report = time.monotonic() + random.uniform(0, REPORT_INTERVAL)
        while time.monotonic() < stop_at:
            head = head_at(time.time() - lag)
            if head != seen:
                seen = head
                frame, key = self._block_frame(head)
                self.transport.send(frame, "block", key)
            if time.monotonic() >= next_report:
                next_report += REPORT_INTERVAL
                await self.report()
            next_head = GENESIS_TIME + (seen - FIRST_BLOCK + 1) * BLOCK_INTERVAL + lag
            delay = min(next_report - time.monotonic(), next_head - time.time())
            await asyncio.sleep(max(0.0, min(delay, stop_at - time.monotonic())))
