"""Which subjects a rule's condition holds for, on the network view right now.

A condition returns ``{subject: Finding}``: the subject is a node id, or "" for the
whole network (chain stalled). Conditions on a node's figures watch only nodes that
are up: a node that is down is the node-down rule's alone, so it pages once.
"""

from collections.abc import Callable
from dataclasses import dataclass

from receivers.alerts.models import AlertRule, Kind
from receivers.network.view import Network, Node


@dataclass(frozen=True)
class Finding:
    value: float | None
    summary: str


Condition = Callable[[AlertRule, Network], dict[str, Finding]]


def _node_down(rule: AlertRule, network: Network) -> dict[str, Finding]:
    found = {}
    for node in network.nodes:
        if not node.active:
            since = node.inactive_since or node.last_seen or network.taken_at
            seconds = max(0.0, network.taken_at - since)
            found[node.id] = Finding(seconds, f"{node.name} is down (no report for {seconds:.0f} s)")
    return found


def _up_nodes(
    rule: AlertRule, network: Network, check: Callable[[Node], Finding | None]
) -> dict[str, Finding]:
    found = {}
    for node in network.nodes:
        if node.active and rule.watches(node.id):
            finding = check(node)
            if finding is not None:
                found[node.id] = finding
    return found


def _node_behind(rule: AlertRule, network: Network) -> dict[str, Finding]:
    def check(node: Node) -> Finding | None:
        if node.blocks_behind is not None and node.blocks_behind > rule.threshold:
            return Finding(
                node.blocks_behind, f"{node.name} is {node.blocks_behind} blocks behind the best block"
            )
        return None

    return _up_nodes(rule, network, check)


def _chain_stalled(rule: AlertRule, network: Network) -> dict[str, Finding]:
    if network.best is None:
        return {}
    seconds = network.taken_at - network.best.first_seen
    if seconds <= rule.threshold:
        return {}
    return {"": Finding(seconds, f"no new block for {seconds:.0f} s (best #{network.best.number})")}


def _peers_below(rule: AlertRule, network: Network) -> dict[str, Finding]:
    def check(node: Node) -> Finding | None:
        if node.peers is not None and node.peers < rule.threshold:
            return Finding(node.peers, f"{node.name} has {node.peers} peers")
        return None

    return _up_nodes(rule, network, check)


def _latency_above(rule: AlertRule, network: Network) -> dict[str, Finding]:
    def check(node: Node) -> Finding | None:
        if node.latency_ms is not None and node.latency_ms > rule.threshold:
            return Finding(node.latency_ms, f"{node.name}: latency {node.latency_ms:.0f} ms")
        return None

    return _up_nodes(rule, network, check)


def _syncing(rule: AlertRule, network: Network) -> dict[str, Finding]:
    def check(node: Node) -> Finding | None:
        return Finding(1, f"{node.name} is syncing") if node.syncing else None

    return _up_nodes(rule, network, check)


def _propagation_slow(rule: AlertRule, network: Network) -> dict[str, Finding]:
    recent = network.blocks[: max(1, rule.blocks)]

    def check(node: Node) -> Finding | None:
        delays = [block.delays_ms[node.id] for block in recent if node.id in block.delays_ms]
        average = sum(delays) / len(delays) if delays else None
        if average is not None and average > rule.threshold:
            return Finding(average, f"{node.name}: blocks arrive {average:.0f} ms after the first node")
        return None

    return _up_nodes(rule, network, check)


CONDITIONS: dict[str, Condition] = {
    Kind.NODE_DOWN: _node_down,
    Kind.NODE_BEHIND: _node_behind,
    Kind.CHAIN_STALLED: _chain_stalled,
    Kind.PEERS_BELOW: _peers_below,
    Kind.LATENCY_ABOVE: _latency_above,
    Kind.SYNCING: _syncing,
    Kind.PROPAGATION_SLOW: _propagation_slow,
}


def findings(rule: AlertRule, network: Network) -> dict[str, Finding]:
    """The subjects ``rule`` holds for now (only the nodes it watches)."""
    found = CONDITIONS[rule.kind](rule, network)
    return {subject: f for subject, f in found.items() if subject == "" or rule.watches(subject)}
