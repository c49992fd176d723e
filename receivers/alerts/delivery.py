"""Deliveries: every process tries the due ones; a lease in the row lets one process try each.

An attempt is recorded whether it worked or not. A failed one is retried after
1, 2, 4 … seconds (at most 5 minutes apart) until the destination's
``max_attempts``. A delivery waits while an earlier event of the same rule and
node to the same destination is still pending, so a destination never hears
"resolved" before "fired". Firing alerts are re-sent to Alertmanager every
``ALERTMANAGER_RESEND_INTERVAL``, as it expects.
"""

import logging
import time
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from poa_backend.core.conf import poa_settings
from receivers.alerts import destinations
from receivers.alerts.engine import silenced
from receivers.alerts.models import (
    AlertDestination,
    AlertEvent,
    AlertState,
    Delivery,
    DeliveryAttempt,
    DestinationKind,
)

logger = logging.getLogger(__name__)

#: Seconds a process holds a delivery it is trying; longer than any attempt's timeout.
LEASE = 120
MAX_BACKOFF = 300
BATCH = 20


def backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 2 ** max(0, attempts - 1))


def due(now: datetime) -> QuerySet[Delivery]:
    earlier_pending = Delivery.objects.filter(
        status=Delivery.Status.PENDING,
        destination=OuterRef("destination"),
        event__rule=OuterRef("event__rule"),
        event__node=OuterRef("event__node"),
        event__id__lt=OuterRef("event__id"),
    )
    return (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(Exists(earlier_pending))
        .order_by("event_id", "id")
    )


def claim(delivery: Delivery, now: datetime) -> bool:
    return bool(
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=LEASE))
    )


def attempt(delivery: Delivery) -> bool:
    """One try of a claimed delivery, recorded; True when it reached the destination."""
    started, now = time.monotonic(), timezone.now()
    status_code, error = None, ""
    try:
        status_code = destinations.send(delivery.destination, delivery.event, now)
    except destinations.DeliveryFailed as exc:
        error, status_code = str(exc), exc.status_code
    ok = not error
    DeliveryAttempt.objects.create(
        delivery=delivery,
        at=now,
        ok=ok,
        status_code=status_code,
        error=error,
        seconds=time.monotonic() - started,
    )
    attempts = delivery.attempts + 1
    if ok:
        changes = {"status": Delivery.Status.DELIVERED, "delivered_at": timezone.now(), "last_error": ""}
    elif attempts >= delivery.destination.max_attempts:
        changes = {"status": Delivery.Status.FAILED, "last_error": error}
        logger.warning("alert delivery %s gave up after %d attempts: %s", delivery, attempts, error)
    else:
        changes = {
            "next_attempt_at": timezone.now() + timedelta(seconds=backoff(attempts)),
            "last_error": error,
        }
    Delivery.objects.filter(pk=delivery.pk).update(attempts=attempts, claimed_until=None, **changes)
    return ok


def deliver_due() -> int:
    """Try every due delivery this process can claim; how many it tried."""
    now = timezone.now()
    tried = 0
    while tried < BATCH:  # again after each round: a delivery may have waited for one just made
        claimed = [
            delivery
            for delivery in due(now).select_related("event__rule", "destination")[: BATCH - tried]
            if claim(delivery, now)
        ]
        if not claimed:
            break
        for delivery in claimed:
            attempt(delivery)
        tried += len(claimed)
    return tried


def resend_firing() -> None:
    """Firing alerts again to every Alertmanager destination, once per interval across processes."""
    now = timezone.now()
    interval = timedelta(seconds=poa_settings.ALERTMANAGER_RESEND_INTERVAL)
    targets = list(AlertDestination.objects.filter(enabled=True, kind=DestinationKind.ALERTMANAGER))
    if not targets:
        return
    stale = AlertState.objects.filter(state=AlertState.State.FIRING, resent_at__lt=now - interval)
    for state in stale.select_related("rule"):
        if not AlertState.objects.filter(pk=state.pk, resent_at=state.resent_at).update(resent_at=now):
            continue  # another process re-sends this one
        if silenced(state.rule, state.node, now):
            continue
        event = state.rule.events.filter(node=state.node, kind=AlertEvent.Kind.FIRED).first()
        if event is None:
            continue
        event.summary = state.summary or event.summary
        for destination in targets:
            try:
                destinations.send_alertmanager(destination, event, now)
            except destinations.DeliveryFailed as exc:
                logger.warning("alert %s: re-send to %s failed: %s", state.rule.name, destination.name, exc)
