"""The network view computed from a store's snapshot: what the API, ``/metrics`` and alerts read.

Times are seconds since the epoch here; delays and latency are milliseconds, as
agents report latency and as eth-netstats shows propagation.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from receivers.network.store import UPTIME_BUCKET, UPTIME_WINDOW, BlockRecord, Snapshot, bucket

#: Blocks the block time and each node's average propagation are taken over (eth-netstats: 40).
RECENT_BLOCKS = 40
#: Upper bounds (ms) of the propagation histogram's bins; the last bin takes the rest.
PROPAGATION_BINS_MS = (100, 250, 500, 1000, 2000, 5000, 10000)


@dataclass
class Block:
    number: int
    hash: str
    timestamp: int | None
    first_seen: float
    delays_ms: dict[str, float]  # node -> its delay after the first report


@dataclass
class Propagation:
    last_ms: float | None = None
    average_ms: float | None = None
    blocks: int = 0


@dataclass
class Node:
    id: str
    name: str
    active: bool
    head: int | None
    head_hash: str | None
    head_timestamp: int | None
    head_at: float | None
    blocks_behind: int | None
    last_block_age: float | None
    latency_ms: float | None
    peers: int | None
    pending: int | None
    syncing: bool | None
    uptime: float | None  # percent of the last 24 h
    first_seen: float | None
    last_seen: float | None
    inactive_since: float | None
    propagation: Propagation = field(default_factory=Propagation)


@dataclass
class Network:
    network: str  # the name the receiver's options give it
    taken_at: float
    best: Block | None
    block_time: float | None  # seconds, between the last two blocks of the best chain
    average_block_time: float | None
    nodes: list[Node]
    blocks: list[Block]  # newest first
    propagation_histogram: list[dict[str, Any]]

    @property
    def node_count(self) -> int:
        return len(self.nodes)

    @property
    def active_nodes(self) -> int:
        return sum(1 for node in self.nodes if node.active)

    def node(self, node_id: str) -> Node | None:
        return next((node for node in self.nodes if node.id == node_id), None)


def blocks_of(records: list[BlockRecord]) -> list[Block]:
    """Each stored block with its first report and every node's delay after it, newest first."""
    blocks = []
    for record in records:
        if not record.arrivals:
            continue
        first = min(record.arrivals.values())
        delays = {node: (at - first) * 1000 for node, at in record.arrivals.items()}
        blocks.append(Block(record.number, record.hash, record.timestamp, first, delays))
    blocks.sort(key=lambda block: (block.number, -block.first_seen), reverse=True)
    return blocks


def chain_blocks(blocks: list[Block]) -> list[Block]:
    """One block per number (the first seen of competing ones), newest first."""
    chosen: dict[int, Block] = {}
    for block in blocks:
        if block.number not in chosen or block.first_seen < chosen[block.number].first_seen:
            chosen[block.number] = block
    return sorted(chosen.values(), key=lambda block: block.number, reverse=True)


def block_times(chain: list[Block]) -> list[tuple[int, float]]:
    """(number, seconds since the block before) over the last ``RECENT_BLOCKS`` of the chain, oldest first."""
    dated = [block for block in chain if block.timestamp is not None][: RECENT_BLOCKS + 1]
    dated.reverse()
    return [
        (later.number, (later.timestamp - earlier.timestamp) / (later.number - earlier.number))
        for earlier, later in pairwise(dated)
    ]


def propagation_of(node_id: str, blocks: list[Block]) -> Propagation:
    delays = [block.delays_ms[node_id] for block in blocks[:RECENT_BLOCKS] if node_id in block.delays_ms]
    if not delays:
        return Propagation()
    return Propagation(last_ms=delays[0], average_ms=sum(delays) / len(delays), blocks=len(delays))


def histogram(blocks: list[Block]) -> list[dict[str, Any]]:
    """How many (node, block) delays over the recent blocks fall in each bin (eth-netstats' histogram)."""
    counts = [0] * (len(PROPAGATION_BINS_MS) + 1)
    for block in blocks[:RECENT_BLOCKS]:
        for delay in block.delays_ms.values():
            counts[bisect_right(PROPAGATION_BINS_MS, delay)] += 1
    lowers = (0.0, *PROPAGATION_BINS_MS)
    uppers = (*PROPAGATION_BINS_MS, None)
    return [
        {"from_ms": lower, "to_ms": upper, "count": count}
        for lower, upper, count in zip(lowers, uppers, counts, strict=True)
    ]


def uptime(fields: dict[str, Any], up_minutes: int, now: float) -> float | None:
    """Percent of the minutes since it was first seen (over a day at most) it reported in while
    up. A node that is up is counted to its last report: the minute it is in now is not over."""
    first_seen = fields.get("first_seen")
    if first_seen is None:
        return None
    start = bucket(max(first_seen, now - UPTIME_WINDOW + UPTIME_BUCKET))
    end = bucket(fields.get("last_seen") or now) if fields.get("active") else bucket(now)
    return min(100.0, 100.0 * up_minutes / max(1, end - start + 1))


def compute(snapshot: Snapshot, network: str = "poa") -> Network:
    now = snapshot.taken_at
    blocks = blocks_of(snapshot.blocks)
    chain = chain_blocks(blocks)
    best = chain[0] if chain else None
    times = block_times(chain)
    nodes = []
    for node_id, fields in snapshot.nodes.items():
        head, head_at = fields.get("head"), fields.get("head_at")
        nodes.append(
            Node(
                id=node_id,
                name=fields.get("name") or node_id,
                active=bool(fields.get("active")),
                head=head,
                head_hash=fields.get("head_hash"),
                head_timestamp=fields.get("head_timestamp"),
                head_at=head_at,
                blocks_behind=None if head is None or best is None else max(0, best.number - head),
                last_block_age=None if head_at is None else max(0.0, now - head_at),
                latency_ms=fields.get("latency"),
                peers=fields.get("peers"),
                pending=fields.get("pending"),
                syncing=fields.get("syncing"),
                uptime=uptime(fields, snapshot.up_minutes.get(node_id, 0), now),
                first_seen=fields.get("first_seen"),
                last_seen=fields.get("last_seen"),
                inactive_since=fields.get("inactive_since") if not fields.get("active") else None,
                propagation=propagation_of(node_id, blocks),
            )
        )
    nodes.sort(key=lambda node: node.id)
    return Network(
        network=network,
        taken_at=now,
        best=best,
        block_time=times[-1][1] if times else None,
        average_block_time=sum(t for _, t in times) / len(times) if times else None,
        nodes=nodes,
        blocks=blocks,
        propagation_histogram=histogram(blocks),
    )
