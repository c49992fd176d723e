"""Alert rules, destinations and silences (edited in the admin); states, events and deliveries (kept)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    NODE_DOWN = "node_down", "node down (inactive)"
    NODE_BEHIND = "node_behind", "node behind the best block by more than threshold blocks"
    CHAIN_STALLED = "chain_stalled", "chain stalled: no new best block for threshold seconds"
    PEERS_BELOW = "peers_below", "peers below threshold"
    LATENCY_ABOVE = "latency_above", "latency above threshold ms"
    SYNCING = "syncing", "node syncing"
    PROPAGATION_SLOW = "propagation_slow", "propagation slower than threshold ms (average of the last blocks)"


#: Kinds that need a threshold, and what it counts.
THRESHOLD_UNITS = {
    Kind.NODE_BEHIND: "blocks",
    Kind.CHAIN_STALLED: "seconds",
    Kind.PEERS_BELOW: "peers",
    Kind.LATENCY_ABOVE: "ms",
    Kind.PROPAGATION_SLOW: "ms",
}


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertRule(models.Model):
    """What to watch: a condition on the network view that must hold ``for_seconds`` to fire."""

    name = models.SlugField(
        max_length=100, unique=True, help_text="The alert's name (Alertmanager's alertname)."
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    threshold = models.FloatField(null=True, blank=True, help_text="K blocks, T seconds, P peers or L/X ms.")
    blocks = models.PositiveIntegerField(
        default=40, help_text="Propagation: average over this many last blocks."
    )
    for_seconds = models.PositiveIntegerField(
        default=60, help_text="How long the condition must hold before the alert fires (pending until then)."
    )
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    nodes = models.JSONField(
        default=list, blank=True, help_text='Node ids to watch, e.g. ["node-1"]; empty: all.'
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in THRESHOLD_UNITS and self.threshold is None:
            raise ValidationError({"threshold": f"{self.get_kind_display()}: needs a threshold"})
        if not isinstance(self.nodes, list) or not all(isinstance(node, str) for node in self.nodes):
            raise ValidationError({"nodes": "a list of node ids (strings)"})

    def watches(self, node: str) -> bool:
        return not self.nodes or node in self.nodes


class DestinationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager (API v2)"
    WEBHOOK = "webhook", "JSON webhook"
    SLACK = "slack", "Slack-compatible incoming webhook"
    EMAIL = "email", "e-mail (Django's e-mail backend)"


class AlertDestination(models.Model):
    """Where notifications go; each fired or resolved event is delivered once to every enabled one."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=DestinationKind.choices)
    url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Alertmanager's base URL (http://host:9093) or the webhook's URL.",
    )
    recipients = models.TextField(blank=True, help_text="E-mail: addresses, one per line or comma-separated.")
    enabled = models.BooleanField(default=True)
    timeout = models.FloatField(default=10.0, help_text="Seconds one attempt may take.")
    max_attempts = models.PositiveIntegerField(
        default=8, help_text="Attempts (with back-off) before giving up."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == DestinationKind.EMAIL and not self.recipient_list():
            raise ValidationError({"recipients": "e-mail needs at least one address"})
        if self.kind != DestinationKind.EMAIL and not self.url:
            raise ValidationError({"url": f"{self.get_kind_display()}: needs a URL"})

    def recipient_list(self) -> list[str]:
        return [part.strip() for part in self.recipients.replace(",", "\n").splitlines() if part.strip()]


class Silence(models.Model):
    """Mutes notifications of a rule, a node, or both, until ``ends_at`` (maintenance)."""

    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: every rule."
    )
    node = models.CharField(max_length=255, blank=True, help_text="Empty: every node.")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-ends_at"]

    def __str__(self) -> str:
        return (
            f"{self.rule or 'every rule'} on {self.node or 'every node'} until {self.ends_at:%Y-%m-%d %H:%M}"
        )

    def clean(self) -> None:
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "must be after the start"})


class AlertState(models.Model):
    """One rule on one subject (a node, or "" for the whole network): pending or firing now."""

    class State(models.TextChoices):
        INACTIVE = "inactive"
        PENDING = "pending"
        FIRING = "firing"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    node = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.INACTIVE)
    since = models.DateTimeField(help_text="When the condition started to hold (pending).")
    fired_at = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    summary = models.TextField(blank=True)
    resent_at = models.DateTimeField(null=True, blank=True, help_text="Last re-send to Alertmanager.")

    class Meta:
        ordering = ["rule", "node"]
        constraints = [models.UniqueConstraint(fields=["rule", "node"], name="alert_state_rule_node")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.node or 'network'}: {self.state}"


class AlertEvent(models.Model):
    """A transition that notifies: an alert fired or resolved."""

    class Kind(models.TextChoices):
        FIRED = "fired"
        RESOLVED = "resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    node = models.CharField(max_length=255, blank=True)
    network = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    started_at = models.DateTimeField(
        help_text="When the alert fired (for a resolved event: the firing's start)."
    )
    value = models.FloatField(null=True, blank=True)
    summary = models.TextField(blank=True)
    silenced = models.BooleanField(default=False, help_text="Muted by a silence: recorded, not delivered.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="alert_event_at")]

    def __str__(self) -> str:
        return f"{self.rule} {self.kind} on {self.node or 'network'}"


class Delivery(models.Model):
    """One event to one destination: retried with back-off until delivered or out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(AlertDestination, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A process is trying it until then."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "destination"], name="delivery_event_destination")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} to {self.destination}: {self.status}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    seconds = models.FloatField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.delivery}: {'ok' if self.ok else self.error}"
