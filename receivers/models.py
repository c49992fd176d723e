from django.db import models

from poa_backend.models import MetricType, PluginRow
from receivers import base


class Receiver(PluginRow):
    """A running receiver and the metric types it is subscribed to."""

    plugin_base = base.Receiver

    metric_types = models.ManyToManyField(
        MetricType, blank=True, related_name="receivers", help_text="Subscriptions."
    )

    class Meta(PluginRow.Meta):
        verbose_name = "receiver"
