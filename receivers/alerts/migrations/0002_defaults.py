from django.db import migrations

DEFAULT_RULES = [
    {
        "name": "node_down",
        "kind": "node_down",
        "for_seconds": 60,
        "severity": "critical",
        "description": "A node stopped reporting (inactive) for a minute.",
    },
    {
        "name": "node_behind",
        "kind": "node_behind",
        "threshold": 10,
        "for_seconds": 60,
        "severity": "warning",
        "description": "A node is more than 10 blocks behind the best block for a minute.",
    },
    {
        "name": "chain_stalled",
        "kind": "chain_stalled",
        "threshold": 300,
        "for_seconds": 0,
        "severity": "critical",
        "description": "No node reported a new best block for 5 minutes.",
    },
]


def seed(apps, schema_editor):
    """A fresh install watches its network at once; destinations come from the environment when set."""
    from poa_backend.core.conf import poa_settings

    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertDestination = apps.get_model("alerts", "AlertDestination")
    for rule in DEFAULT_RULES:
        AlertRule.objects.get_or_create(name=rule["name"], defaults=rule)
    for name, kind, url in (
        ("alertmanager", "alertmanager", poa_settings.ALERTMANAGER_URL),
        ("webhook", "webhook", poa_settings.ALERT_WEBHOOK_URL),
    ):
        if url:
            AlertDestination.objects.get_or_create(name=name, defaults={"kind": kind, "url": url})


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
