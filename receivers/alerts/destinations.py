"""How one event reaches one kind of destination; a sender raises ``DeliveryFailed`` when it did not.

- Alertmanager: ``POST <url>/api/v2/alerts`` with ``labels`` (``alertname``, ``node``,
  ``network``, ``severity``), ``annotations``, ``startsAt`` and ``endsAt``: a firing
  alert ends a few re-send intervals ahead (so it lapses if this backend goes away),
  a resolved one at its resolution.
- JSON webhook: the event as one JSON object.
- Slack-compatible incoming webhook: ``{"text": ...}``.
- E-mail: through Django's e-mail backend (the ``EMAIL_*`` settings).
"""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail

from poa_backend.core.conf import poa_settings
from receivers.alerts.models import AlertDestination, AlertEvent, DestinationKind

#: A firing alert sent to Alertmanager lasts this many re-send intervals unless sent again.
FIRING_LIFETIME_INTERVALS = 4


class DeliveryFailed(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post_json(url: str, payload: object, timeout: float) -> int:
    """POST ``payload`` as JSON; the status, or DeliveryFailed for an error or a non-2xx answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "poa_backend-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(4096)
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code}: {exc.read(300).decode(errors='replace')}", exc.code) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc


def alertmanager_alert(event: AlertEvent, firing: bool, now: datetime) -> dict:
    """One alert of Alertmanager's API v2 for ``event``'s rule and node."""
    rule = event.rule
    ends = now + timedelta(seconds=FIRING_LIFETIME_INTERVALS * poa_settings.ALERTMANAGER_RESEND_INTERVAL)
    return {
        "labels": {
            "alertname": rule.name,
            "node": event.node or "network",
            "network": event.network,
            "severity": rule.severity,
        },
        "annotations": {"summary": event.summary, "description": rule.description or rule.get_kind_display()},
        "startsAt": iso(event.started_at),
        "endsAt": iso(ends if firing else event.at),
    }


def send_alertmanager(destination: AlertDestination, event: AlertEvent, now: datetime) -> int:
    alert = alertmanager_alert(event, event.kind == AlertEvent.Kind.FIRED, now)
    return post_json(destination.url.rstrip("/") + "/api/v2/alerts", [alert], destination.timeout)


def event_payload(event: AlertEvent) -> dict:
    return {
        "id": event.pk,
        "event": event.kind,
        "alert": event.rule.name,
        "kind": event.rule.kind,
        "severity": event.rule.severity,
        "node": event.node,
        "network": event.network,
        "value": event.value,
        "summary": event.summary,
        "started_at": iso(event.started_at),
        "at": iso(event.at),
    }


def headline(event: AlertEvent) -> str:
    state = "FIRING" if event.kind == AlertEvent.Kind.FIRED else "RESOLVED"
    return f"[{state}] {event.rule.name} on {event.node or 'the network'} ({event.network})"


def send_webhook(destination: AlertDestination, event: AlertEvent, now: datetime) -> int:
    return post_json(destination.url, event_payload(event), destination.timeout)


def send_slack(destination: AlertDestination, event: AlertEvent, now: datetime) -> int:
    return post_json(destination.url, {"text": f"{headline(event)}: {event.summary}"}, destination.timeout)


def send_email(destination: AlertDestination, event: AlertEvent, now: datetime) -> int | None:
    body = "\n".join(f"{key}: {value}" for key, value in event_payload(event).items())
    try:
        send_mail(headline(event), body, settings.DEFAULT_FROM_EMAIL, destination.recipient_list())
    except Exception as exc:  # SMTP errors, refused recipients, a backend that cannot be loaded
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    return None


SENDERS: dict[str, Callable[[AlertDestination, AlertEvent, datetime], int | None]] = {
    DestinationKind.ALERTMANAGER: send_alertmanager,
    DestinationKind.WEBHOOK: send_webhook,
    DestinationKind.SLACK: send_slack,
    DestinationKind.EMAIL: send_email,
}


def send(destination: AlertDestination, event: AlertEvent, now: datetime) -> int | None:
    return SENDERS[destination.kind](destination, event, now)
