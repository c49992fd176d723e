from django.db import models

from poa_backend.core import receiver as base
from poa_backend.core.models import MetricType, PluginRow


class Receiver(PluginRow):
    """A running receiver and the metric types it is subscribed to."""

    plugin_base = base.ReceiverPlugin

    metric_types = models.ManyToManyField(
        MetricType, blank=True, related_name="receivers", help_text="Subscriptions."
    )

    class Meta(PluginRow.Meta):
        verbose_name = "receiver"


class EthereumStatistics(models.Model):
    """One ``statistics`` report of an agent's Ethereum node, as the storage receiver wrote it.

    ``date`` is when the backend received the report, to the microsecond; together
    with ``agent_id`` it identifies the row. Block numbers are integers (the agent
    sends them as hex quantities) and null when the node was not syncing.
    """

    date = models.DateTimeField(help_text="When the backend received the report (UTC).")
    agent_id = models.CharField(max_length=255)
    active = models.BooleanField()
    mining = models.BooleanField()
    hashrate = models.BigIntegerField()
    peers = models.IntegerField()
    gas_price = models.BigIntegerField(help_text="In wei.")
    current_block = models.BigIntegerField(null=True, blank=True)
    highest_block = models.BigIntegerField(null=True, blank=True)
    starting_block = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "Ethereum statistics"
        verbose_name_plural = "Ethereum statistics"
        ordering = ["-date"]
        constraints = [
            # Also the index for "one agent's reports over time".
            models.UniqueConstraint(fields=["agent_id", "date"], name="ethereum_statistics_agent_date"),
        ]
        indexes = [models.Index(fields=["date"], name="ethereum_statistics_date")]

    def __str__(self) -> str:
        return f"{self.agent_id} at {self.date:%Y-%m-%d %H:%M:%S}"


class SystemStatistics(models.Model):
    """One ``statistics`` report of an agent's host (percentages), as the storage receiver wrote it."""

    date = models.DateTimeField(help_text="When the backend received the report (UTC).")
    agent_id = models.CharField(max_length=255)
    cpu_load = models.FloatField(help_text="Percent.")
    disk_usage = models.FloatField(help_text="Percent.")
    memory_usage = models.FloatField(help_text="Percent.")

    class Meta:
        verbose_name = "system statistics"
        verbose_name_plural = "system statistics"
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["agent_id", "date"], name="system_statistics_agent_date"),
        ]
        indexes = [models.Index(fields=["date"], name="system_statistics_date")]

    def __str__(self) -> str:
        return f"{self.agent_id} at {self.date:%Y-%m-%d %H:%M:%S}"


class KnownAgent(models.Model):
    """An agent the backend has heard from, kept by the ``known_agents`` receiver."""

    agent_id = models.CharField(max_length=255, unique=True)
    first_seen = models.DateTimeField(help_text="When its first message arrived (UTC).")
    last_seen = models.DateTimeField(help_text="When its latest message of any type arrived (UTC).")
    inactive_since = models.DateTimeField(
        null=True, blank=True, help_text="When it last went quiet, said bye or disconnected."
    )

    class Meta:
        ordering = ["agent_id"]
        verbose_name = "known agent"

    def __str__(self) -> str:
        return self.agent_id


class DeadLetter(models.Model):
    """A message a durable receiver's sink refused for good (a row the database rejects), kept
    with the error instead of lost; the admin's "replay" action hands it to the receiver again."""

    receiver = models.CharField(max_length=255, help_text="The receiver whose sink refused it.")
    created_at = models.DateTimeField(auto_now_add=True)
    agent_id = models.CharField(max_length=255, blank=True)
    data_type = models.CharField(max_length=255, blank=True)
    message = models.JSONField(help_text="The message as spooled (agent, type, data, accepted_at).")
    error = models.TextField(help_text="What the sink answered.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "dead letter"
        indexes = [models.Index(fields=["receiver", "created_at"], name="dead_letter_receiver")]

    def __str__(self) -> str:
        return f"{self.receiver}: {self.agent_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
