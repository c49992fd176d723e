from django.db import migrations


def seed(apps, schema_editor):
    """The network view's receiver, on by default: the API, /metrics and alerts read it."""
    Receiver = apps.get_model("receivers", "Receiver")
    MetricType = apps.get_model("poa_backend", "MetricType")
    receiver, created = Receiver.objects.get_or_create(
        name="network",
        defaults={
            "class_path": "receivers.network.receiver.NetworkReceiver",
            "options": {"network": "poa", "max_nodes": 500, "max_blocks": 64},
        },
    )
    if created:
        receiver.metric_types.set(
            MetricType.objects.filter(name__in=["ethereum_metrics", "networking_metrics"])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("receivers", "0004_known_agents"),
        ("poa_backend", "0002_default_metric_types"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
