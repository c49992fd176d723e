"""The state machine: inactive → pending → firing → (resolved) inactive, one conditional update each.

Processes take turns running ``evaluate`` (receivers/alerts/loops.py), and a claimed turn
does not make it safe alone: a transition is an UPDATE that matches only the state it
leaves, so when two processes try the same one, one matches and records the event and
its deliveries, the other changes nothing.
Pending needs no notification: a condition that stops holding before ``for``
passes leaves no event behind (one flap pages no one).
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from receivers.alerts.models import AlertDestination, AlertEvent, AlertRule, AlertState, Delivery, Silence
from receivers.alerts.rules import Finding, findings
from receivers.network.view import Network

logger = logging.getLogger(__name__)
State = AlertState.State


def silenced(rule: AlertRule, node: str, at: datetime) -> bool:
    return (
        Silence.objects.filter(starts_at__lte=at, ends_at__gt=at)
        .filter(Q(rule__isnull=True) | Q(rule=rule))
        .filter(Q(node="") | Q(node=node))
        .exists()
    )


def record(state: AlertState, kind: str, network: str, at: datetime, started_at: datetime) -> AlertEvent:
    """The event of a transition just made, and its deliveries unless a silence mutes it."""
    muted = silenced(state.rule, state.node, at)
    event = AlertEvent.objects.create(
        rule=state.rule,
        node=state.node,
        network=network,
        kind=kind,
        at=at,
        started_at=started_at,
        value=state.value,
        summary=state.summary,
        silenced=muted,
    )
    if not muted:
        Delivery.objects.bulk_create(
            Delivery(event=event, destination=destination, next_attempt_at=at)
            for destination in AlertDestination.objects.filter(enabled=True)
        )
    logger.info(
        "alert %s %s on %s%s", state.rule.name, kind, state.node or "network", " (silenced)" if muted else ""
    )
    return event


def move(row: AlertState, leaving: str, **changes: object) -> bool:
    """Apply ``changes`` if the row is still in ``leaving``: True for the one process that did."""
    moved = AlertState.objects.filter(pk=row.pk, state=leaving).update(**changes)
    if moved:
        for name, value in changes.items():
            setattr(row, name, value)
    return bool(moved)


def fire(state: AlertState, network: str, now: datetime) -> None:
    with transaction.atomic():
        if move(state, State.PENDING, state=State.FIRING, fired_at=now, resent_at=now):
            record(state, AlertEvent.Kind.FIRED, network, now, now)


def resolve(state: AlertState, network: str, now: datetime) -> None:
    with transaction.atomic():
        fired_at = state.fired_at or now
        if move(state, State.FIRING, state=State.INACTIVE):
            record(state, AlertEvent.Kind.RESOLVED, network, now, fired_at)


def holds(
    rule: AlertRule, state: AlertState | None, subject: str, finding: Finding, network: str, now: datetime
) -> AlertState:
    """The condition holds: start pending, or fire once ``for`` has passed."""
    if state is None:
        try:
            state, _ = AlertState.objects.get_or_create(
                rule=rule, node=subject, defaults={"state": State.PENDING, "since": now}
            )
        except IntegrityError:  # another process made it first
            state = AlertState.objects.get(rule=rule, node=subject)
        state.rule = rule
    if state.state == State.INACTIVE:
        move(state, State.INACTIVE, state=State.PENDING, since=now)
    state.value, state.summary = finding.value, finding.summary
    if state.state == State.PENDING and now - state.since >= timedelta(seconds=rule.for_seconds):
        AlertState.objects.filter(pk=state.pk).update(value=finding.value, summary=finding.summary)
        fire(state, network, now)
    return state


def clears(state: AlertState, network: str, now: datetime) -> None:
    """The condition no longer holds: a pending alert goes back quietly, a firing one resolves."""
    if state.state == State.PENDING:
        move(state, State.PENDING, state=State.INACTIVE)
    elif state.state == State.FIRING:
        resolve(state, network, now)


def evaluate(network: Network, now: datetime | None = None) -> None:
    """One pass of every rule over the view; rules that were disabled resolve what they fired."""
    now = now or timezone.now()
    rules = {rule.pk: rule for rule in AlertRule.objects.all()}
    states: dict[tuple[int, str], AlertState] = {}
    for state in AlertState.objects.exclude(state=State.INACTIVE):
        state.rule = rules[state.rule_id]
        states[(state.rule_id, state.node)] = state
    for rule in rules.values():
        found = findings(rule, network) if rule.enabled else {}
        for subject, finding in found.items():
            holds(rule, states.pop((rule.pk, subject), None), subject, finding, network.network, now)
    for state in states.values():
        clears(state, network.network, now)
