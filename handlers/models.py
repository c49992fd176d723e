from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils import timezone

from poa_backend.core import handler as base
from poa_backend.core.models import PluginRow


class CustomHandler(PluginRow):
    """A running custom handler: the class that speaks the POA Protocol, and its listener."""

    plugin_base = base.HandlerPlugin

    class Meta(PluginRow.Meta):
        verbose_name = "custom handler"


class AgentUser(models.Model):
    """An agent's credentials: it trades them on ``POST /session`` for a JWT."""

    name = models.CharField(max_length=150, unique=True)
    password = models.CharField(max_length=128, help_text="A Django password hash, never the password.")
    is_active = models.BooleanField("active", default=True, help_text="Inactive users' tokens stop working.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "agent user"

    def __str__(self) -> str:
        return self.name

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        """Whether the password matches; re-hashes it when the hasher settings moved on."""

        def upgrade(raw: str) -> None:
            self.set_password(raw)
            self.save(update_fields=["password"])

        return check_password(raw_password, self.password, upgrade)


class BannedToken(models.Model):
    """A token refused before its expiry, by its ``jti``; purged once it would have expired anyway."""

    jti = models.CharField("token id", max_length=64, unique=True)
    user_name = models.CharField(max_length=150, blank=True, help_text="The token's subject, for operators.")
    expires_at = models.DateTimeField(db_index=True)
    banned_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-banned_at"]
        verbose_name = "banned token"

    def __str__(self) -> str:
        return f"{self.jti} ({self.user_name})"


class NodeTransport(models.Model):
    """Which transport a node (an agent id) reports over, and the client it runs, as last seen.

    The handlers record it when a node announces itself (an ethstats ``hello``); the admin
    lists it, so an operator sees which nodes are POA agents and which are clients' own
    ethstats reporters, and which client and version each runs.
    """

    REST = "rest"
    AGENT_SOCKET = "agent_socket"
    ETHSTATS = "ethstats"
    TRANSPORTS = [(REST, "REST"), (AGENT_SOCKET, "agent socket"), (ETHSTATS, "ethstats")]

    agent_id = models.CharField("node", max_length=256, unique=True)
    transport = models.CharField(max_length=20, choices=TRANSPORTS)
    client = models.CharField(max_length=200, blank=True, help_text="What the node says it runs.")
    user_name = models.CharField(
        max_length=150, blank=True, help_text="The agent user it logged in as (empty: a shared secret)."
    )
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agent_id"]
        verbose_name = "node transport"

    def __str__(self) -> str:
        return f"{self.agent_id} ({self.get_transport_display()})"

    @classmethod
    def record(cls, agent_id: str, transport: str, client: str = "", user_name: str = "") -> None:
        """Note the node's transport and client now: one ``INSERT ... ON CONFLICT DO UPDATE``
        (``update_or_create`` takes a transaction, a locking read and a write)."""
        row = cls(
            agent_id=agent_id,
            transport=transport,
            client=client[:200],
            user_name=user_name,
            last_seen=timezone.now(),
        )
        cls.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["agent_id"],
            update_fields=["transport", "client", "user_name", "last_seen"],
        )
