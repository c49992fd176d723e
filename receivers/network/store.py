"""Where the network view lives: in this process, or in Redis for every process of a backend.

Both stores keep the same bounded records, written so that processes writing at
once never undo each other's work:

- per node, a map of its latest fields (each report sets only the fields it
  carries) and the set of minutes of the last 24 h it was heard from while up;
- per block hash, its number and timestamp and each node's first report of it
  (``@node`` -> when accepted). The first report of the block is the smallest of
  those times, so no process needs to know which report came first.

Nodes beyond ``max_nodes`` (the least recently heard from) and blocks beyond
``max_blocks`` (the lowest numbers) are dropped.
"""

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings

from poa_backend.core.conf import poa_settings
from receivers.network.reports import Report

#: Uptime is counted in minutes over a day, like eth-netstats' "uptime" column.
UPTIME_BUCKET = 60
UPTIME_WINDOW = 24 * 3600


def bucket(at: float) -> int:
    return int(at // UPTIME_BUCKET)


@dataclass
class BlockRecord:
    hash: str
    number: int
    timestamp: int | None
    arrivals: dict[str, float] = field(default_factory=dict)  # node -> when it first reported the block


@dataclass
class Snapshot:
    """Everything the view is computed from, as one store held it at ``taken_at``."""

    taken_at: float
    nodes: dict[str, dict[str, Any]]
    up_minutes: dict[str, int]  # node -> minutes heard from while up, in the last 24 h
    blocks: list[BlockRecord]  # lowest number first


def node_fields(report: Report) -> dict[str, Any]:
    """What a report sets: its own fields, and that the node is up (unless it said it is not)."""
    return {**report.fields, "active": report.fields.get("reported_active", True), "last_seen": report.at}


class Store:
    """The contract both stores keep; ``snapshot`` reuses a recent one for ``cache`` seconds."""

    cache = 0.5

    def __init__(self, max_nodes: int, max_blocks: int) -> None:
        self.max_nodes = max_nodes
        self.max_blocks = max_blocks
        self._cached: Snapshot | None = None

    def record(self, reports: list[Report]) -> None:
        raise NotImplementedError

    def inactive(self, node_ids: list[str], at: float) -> None:
        """The nodes went inactive at ``at`` (those the view does not hold are ignored)."""
        raise NotImplementedError

    def read(self) -> Snapshot:
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        cached = self._cached
        if cached is None or time.time() - cached.taken_at > self.cache:
            cached = self._cached = self.read()
        return cached

    def close(self) -> None:
        """Release connections."""


class MemoryStore(Store):
    """One process: plain dictionaries behind a lock."""

    def __init__(self, max_nodes: int, max_blocks: int) -> None:
        super().__init__(max_nodes, max_blocks)
        self._lock = threading.Lock()
        self._nodes: OrderedDict[str, dict[str, Any]] = OrderedDict()  # least recently heard first
        self._up: dict[str, set[int]] = {}
        self._blocks: dict[str, BlockRecord] = {}

    def record(self, reports: list[Report]) -> None:
        with self._lock:
            for report in reports:
                node = self._nodes.setdefault(report.node_id, {"first_seen": report.at})
                node.update(node_fields(report))
                self._nodes.move_to_end(report.node_id)
                up = self._up.setdefault(report.node_id, set())
                if node["active"]:
                    up.add(bucket(report.at))
                if report.block is not None:
                    self._arrival(report)
            self._trim(time.time())
            self._cached = None

    def _arrival(self, report: Report) -> None:
        block_hash, number, timestamp = report.block
        block = self._blocks.get(block_hash)
        if block is None:
            block = self._blocks[block_hash] = BlockRecord(block_hash, number, timestamp)
        block.arrivals.setdefault(report.node_id, report.at)

    def _trim(self, now: float) -> None:
        while len(self._nodes) > self.max_nodes:
            node_id, _ = self._nodes.popitem(last=False)
            self._up.pop(node_id, None)
            for block in self._blocks.values():
                block.arrivals.pop(node_id, None)
        oldest = bucket(now - UPTIME_WINDOW)
        for minutes in self._up.values():
            if len(minutes) > UPTIME_WINDOW // UPTIME_BUCKET:
                minutes.difference_update([m for m in minutes if m < oldest])
        if len(self._blocks) > self.max_blocks:
            ordered = sorted(self._blocks.values(), key=lambda b: b.number)
            for block in ordered[: len(ordered) - self.max_blocks]:
                del self._blocks[block.hash]

    def inactive(self, node_ids: list[str], at: float) -> None:
        with self._lock:
            for node_id in node_ids:
                node = self._nodes.get(node_id)
                if node is not None:
                    node.update(active=False, inactive_since=at)
                    self._cached = None

    def read(self) -> Snapshot:
        now = time.time()
        oldest = bucket(now - UPTIME_WINDOW)
        with self._lock:
            return Snapshot(
                taken_at=now,
                nodes={node_id: dict(fields) for node_id, fields in self._nodes.items()},
                up_minutes={n: sum(1 for m in up if m >= oldest) for n, up in self._up.items()},
                blocks=sorted(
                    (
                        BlockRecord(b.hash, b.number, b.timestamp, dict(b.arrivals))
                        for b in self._blocks.values()
                    ),
                    key=lambda b: b.number,
                ),
            )


class RedisStore(Store):
    """Several processes: the same records in Redis, written in one pipeline per batch.

    Keys (under ``<prefix>:network:<name>``): ``nodes`` (sorted set, node -> last
    heard), ``node:<id>`` (hash of JSON fields), ``up:<id>`` (sorted set of minutes),
    ``blocks`` (sorted set, hash -> number), ``block:<hash>`` (hash: ``number``,
    ``timestamp`` and ``@<node>`` -> first report). Every key expires a day after
    its last write (up to ``REFRESH`` sooner, see below), so a backend that stops leaves
    nothing behind for long.

    What a batch must write is a node's latest fields, its place in ``nodes``, a minute it
    was first up in and each block arrival. The rest (a node's ``first_seen``, a block's
    number, time and place in ``blocks``, trimming old minutes, the keys' expiries) a process
    repeats at most every ``REFRESH`` seconds per key: a store that lost its keys (Redis
    restarted) has all of it back within that time.
    """

    EXPIRE = UPTIME_WINDOW + 3600
    REFRESH = 60.0

    def __init__(self, url: str, prefix: str, name: str, max_nodes: int, max_blocks: int) -> None:
        super().__init__(max_nodes, max_blocks)
        self.base = f"{prefix}:network:{name}"
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        #: Key (or key and minute) -> when this process last made its occasional writes.
        self._refreshed: dict[str, float] = {}
        self._pruned_at = time.time()
        #: Block hash -> (its field count, its record) as the last ``read`` found it.
        self._blocks_read: dict[str, tuple[int, BlockRecord]] = {}

    def _key(self, *parts: str) -> str:
        return ":".join((self.base, *parts))

    def _due(self, key: str, now: float) -> bool:
        """Whether the occasional writes of ``key`` are due; if so they count as made now."""
        if now - self._refreshed.get(key, -self.REFRESH) < self.REFRESH:
            return False
        self._refreshed[key] = now
        return True

    def _forget_old_refreshes(self, now: float) -> None:
        """Once every ``REFRESH`` seconds: what has not been refreshed since is due anyway."""
        if now - self._pruned_at >= self.REFRESH:
            self._refreshed = {key: at for key, at in self._refreshed.items() if now - at < self.REFRESH}
            self._pruned_at = now

    def record(self, reports: list[Report]) -> None:
        """One pipeline per batch; a node's reports in the batch become one write of each kind."""
        if not reports:
            return
        merged: dict[str, dict[str, Any]] = {}
        first: dict[str, float] = {}
        minutes: dict[str, set[int]] = {}
        for report in reports:
            fields = node_fields(report)
            merged.setdefault(report.node_id, {}).update(fields)
            first.setdefault(report.node_id, report.at)
            if fields["active"]:
                minutes.setdefault(report.node_id, set()).add(bucket(report.at))
        pipe = self.client.pipeline(transaction=False)
        nodes_key, blocks_key = self._key("nodes"), self._key("blocks")
        now = time.time()
        oldest_minute = bucket(now - UPTIME_WINDOW) - 1
        for node_id, fields in merged.items():
            node_key, up_key = self._key("node", node_id), self._key("up", node_id)
            pipe.hset(node_key, mapping={k: json.dumps(v) for k, v in fields.items()})
            pipe.zadd(nodes_key, {node_id: fields["last_seen"]}, gt=True)
            if self._due(node_key, now):
                pipe.hsetnx(node_key, "first_seen", json.dumps(first[node_id]))
                pipe.expire(node_key, self.EXPIRE)
            new_minutes = [m for m in minutes.get(node_id, ()) if self._due(f"{up_key}@{m}", now)]
            if new_minutes:
                pipe.zadd(up_key, {str(minute): minute for minute in new_minutes})
            if node_id in minutes and self._due(up_key, now):
                pipe.zremrangebyscore(up_key, "-inf", oldest_minute)
                pipe.expire(up_key, self.EXPIRE)
        for report in reports:
            if report.block is not None:
                block_hash, number, timestamp = report.block
                block_key = self._key("block", block_hash)
                pipe.hsetnx(block_key, f"@{report.node_id}", report.at)
                if self._due(block_key, now):
                    pipe.zadd(blocks_key, {block_hash: number}, nx=True)
                    pipe.hsetnx(block_key, "number", number)
                    pipe.hsetnx(block_key, "timestamp", json.dumps(timestamp))
                    pipe.expire(block_key, self.EXPIRE)
        for key in (nodes_key, blocks_key):
            if self._due(key, now):
                pipe.expire(key, self.EXPIRE)
        self._forget_old_refreshes(now)
        pipe.zcard(nodes_key)
        pipe.zcard(blocks_key)
        *_, node_count, block_count = pipe.execute()
        self._trim(node_count, block_count)
        self._cached = None

    def _trim(self, node_count: int, block_count: int) -> None:
        gone: list[str] = []
        if node_count > self.max_nodes:
            for node_id, _ in self.client.zpopmin(self._key("nodes"), node_count - self.max_nodes):
                gone += [self._key("node", node_id), self._key("up", node_id)]
        if block_count > self.max_blocks:
            for block_hash, _ in self.client.zpopmin(self._key("blocks"), block_count - self.max_blocks):
                gone.append(self._key("block", block_hash))
        if gone:
            self.client.delete(*gone)
            for key in gone:  # a node heard again starts its keys afresh, first_seen and expiry too
                self._refreshed.pop(key, None)

    def inactive(self, node_ids: list[str], at: float) -> None:
        held = self.client.zmscore(self._key("nodes"), node_ids) if node_ids else []
        known = [node_id for node_id, score in zip(node_ids, held, strict=True) if score is not None]
        if not known:
            return
        fields = {"active": "false", "inactive_since": json.dumps(at)}
        pipe = self.client.pipeline(transaction=False)
        for node_id in known:
            pipe.hset(self._key("node", node_id), mapping=fields)
        pipe.execute()
        self._cached = None

    def read(self) -> Snapshot:
        """Every node's fields and up-minutes; of the blocks, only those whose arrivals grew
        since the last read are fetched again (a block hash only gains fields, so an unchanged
        field count is an unchanged block)."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self._key("nodes"), 0, -1)
        pipe.zrange(self._key("blocks"), 0, -1)
        node_ids, hashes = pipe.execute()
        for node_id in node_ids:
            pipe.hgetall(self._key("node", node_id))
            pipe.zcount(self._key("up", node_id), bucket(now - UPTIME_WINDOW), "+inf")
        for block_hash in hashes:
            pipe.hlen(self._key("block", block_hash))
        replies = pipe.execute()
        nodes, up_minutes = {}, {}
        for index, node_id in enumerate(node_ids):
            fields = replies[2 * index]
            if fields:
                nodes[node_id] = {key: json.loads(value) for key, value in fields.items()}
                up_minutes[node_id] = replies[2 * index + 1]
        sizes = dict(zip(hashes, replies[2 * len(node_ids) :], strict=True))
        known = {h: self._blocks_read[h] for h in hashes if h in self._blocks_read}
        changed = [h for h in hashes if h not in known or known[h][0] != sizes[h]]
        for block_hash in changed:
            pipe.hgetall(self._key("block", block_hash))
        for block_hash, fields in zip(changed, pipe.execute() if changed else [], strict=True):
            known.pop(block_hash, None)
            if "number" in fields:
                known[block_hash] = (len(fields), self._block_record(block_hash, fields))
        self._blocks_read = known
        blocks = [known[h][1] for h in hashes if h in known]
        return Snapshot(taken_at=now, nodes=nodes, up_minutes=up_minutes, blocks=blocks)

    @staticmethod
    def _block_record(block_hash: str, fields: dict[str, str]) -> BlockRecord:
        arrivals = {key[1:]: float(value) for key, value in fields.items() if key.startswith("@")}
        return BlockRecord(
            block_hash, int(fields["number"]), json.loads(fields.get("timestamp", "null")), arrivals
        )

    def close(self) -> None:
        self.client.close()


_local: dict[str, MemoryStore] = {}
_local_lock = threading.Lock()


def store_for(name: str, max_nodes: int, max_blocks: int) -> Store:
    """The store of network receiver ``name``: Redis with ``REDIS_URL``, else this process's
    (kept across the receiver's rebuilds, so an options change keeps what it knew)."""
    if settings.REDIS_URL:
        return RedisStore(settings.REDIS_URL, poa_settings.REDIS_PREFIX, name, max_nodes, max_blocks)
    with _local_lock:
        store = _local.setdefault(name, MemoryStore(max_nodes, max_blocks))
    store.max_nodes, store.max_blocks = max_nodes, max_blocks
    return store
