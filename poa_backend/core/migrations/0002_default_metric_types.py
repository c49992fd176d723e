from django.db import migrations

DEFAULT_METRIC_TYPES = {
    "ethereum_metrics": "Node information, blocks, history, pending transactions, node statistics",
    "networking_metrics": "Latency to the backend",
    "system_metrics": "Host CPU, memory and disk load",
}


def seed(apps, schema_editor):
    MetricType = apps.get_model("poa_backend", "MetricType")
    for name, description in DEFAULT_METRIC_TYPES.items():
        MetricType.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("poa_backend", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
