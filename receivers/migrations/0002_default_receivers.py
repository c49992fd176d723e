import secrets

from django.db import migrations


def default_receivers():
    return [
        (
            "dashboard",
            "receivers.dashboard.DashboardReceiver",
            # The secret is made here, at install time; POA_DASHBOARD_SECRET overrides it.
            {"scheme": "http", "port": 8181, "path": "/ws", "secret": secrets.token_urlsafe(24)},
            ["ethereum_metrics", "networking_metrics"],
            True,
        ),
        (
            "ethereum_statistics",
            "receivers.storage.EthereumStatisticsReceiver",
            {},
            ["ethereum_metrics"],
            True,
        ),
        ("system_statistics", "receivers.storage.SystemStatisticsReceiver", {}, ["system_metrics"], True),
        (
            "dynamodb_blocks",
            "receivers.dynamodb.DynamoDBBlockReceiver",
            {"table_name": "poa_blocks", "region": "us-east-1", "create_table": False},
            ["ethereum_metrics"],
            False,
        ),
    ]


def seed(apps, schema_editor):
    Receiver = apps.get_model("receivers", "Receiver")
    MetricType = apps.get_model("poa_backend", "MetricType")
    for name, class_path, options, metric_types, enabled in default_receivers():
        receiver, created = Receiver.objects.get_or_create(
            name=name, defaults={"class_path": class_path, "options": options, "enabled": enabled}
        )
        if created:
            receiver.metric_types.set(MetricType.objects.filter(name__in=metric_types))


class Migration(migrations.Migration):
    dependencies = [
        ("receivers", "0001_initial"),
        ("poa_backend", "0002_default_metric_types"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
