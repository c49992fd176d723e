"""Helpers for the network-view, alert and dashboard tests: agents over REST, the staff API."""

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User

from simulator.credentials import local_credentials
from tests.agent_client import call, request

STAFF = ("network-operator", "network-pass-1")
ETHEREUM, NETWORKING = "ethereum_metrics", "networking_metrics"


def make_staff() -> User:
    return User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)


@contextmanager
def redis_environment(redis_url: str, redis_prefix: str) -> Iterator[dict[str, str]]:
    """The environment of processes sharing state through Redis; their keys are removed after."""
    import redis

    yield {"REDIS_URL": redis_url, "POA_REDIS_PREFIX": redis_prefix}
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{redis_prefix}:*"))
    if keys:
        client.delete(*keys)


def block_body(number: int, timestamp: int | None = None, block_hash: str | None = None) -> dict[str, Any]:
    return {
        "number": number,
        "hash": block_hash or f"0x{number:064x}",
        "parentHash": f"0x{number - 1:064x}",
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "transactions": [],
        "uncles": [],
    }


def statistics_body(peers: int = 12, syncing: Any = False) -> dict[str, Any]:
    return {
        "active": True,
        "mining": False,
        "hashrate": 0,
        "peers": peers,
        "gasPrice": 10**9,
        "syncing": syncing,
        "uptime": 100,
    }


@dataclass
class Agent:
    """One simulated node's agent over REST (``rest`` is the base URL of the REST listener)."""

    agent_id: str
    token: str
    rest: str
    sent_at: list[float] = field(default_factory=list)

    def data(self, metric_type: str, kind: str, body: Any) -> float:
        """One ``/data`` call; returns when it was sent."""
        started = time.time()
        reply = call(
            self.rest,
            "/data",
            {"id": self.agent_id, "type": metric_type, "data": {"type": kind, "body": body}},
            token=self.token,
        )
        assert reply.status == 200, (reply.status, reply.body)
        return started

    def ping(self) -> None:
        reply = call(self.rest, "/ping", {"id": self.agent_id}, token=self.token)
        assert reply.status == 200, (reply.status, reply.body)

    def block(self, number: int, **kwargs: Any) -> float:
        return self.data(ETHEREUM, "block", block_body(number, **kwargs))

    def information(self, name: Any = None) -> None:
        self.data(
            ETHEREUM,
            "information",
            {
                "name": self.agent_id if name is None else name,
                "node": "Parity//v2.0.5",
                "client": "0.1.0",
                "net": "99",
            },
        )


def agents(rest: str, *agent_ids: str) -> dict[str, Agent]:
    credentials = local_credentials("network-test", len(agent_ids))
    return {
        agent_id: Agent(agent_id, creds.token, rest)
        for agent_id, creds in zip(agent_ids, credentials, strict=True)
    }


def staff_get(base: str, path: str, credentials: tuple[str, str] = STAFF) -> Any:
    """A staff GET on the history API; the JSON answer (asserting 200)."""
    basic = base64.b64encode(":".join(credentials).encode()).decode()
    reply = request(base, path, method="GET", headers={"Authorization": f"Basic {basic}"})
    assert reply.status == 200, (path, reply.status, reply.body[:500])
    return json.loads(reply.body)


class KeepAlive:
    """An agent that is up: pings and reports a new block every 0.4 s, from start until ``stop``."""

    def __init__(self, agent: Agent, first_block: int = 100) -> None:
        self.agent = agent
        self.number = first_block
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.agent.ping()
            self.number += 1
            self.agent.block(self.number)
            self.stopping.wait(0.4)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
