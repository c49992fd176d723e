from django.db import migrations, models


def seed(apps, schema_editor):
    """The receiver that keeps the rows: subscribed to every metric type."""
    Receiver = apps.get_model("receivers", "Receiver")
    MetricType = apps.get_model("poa_backend", "MetricType")
    receiver, created = Receiver.objects.get_or_create(
        name="known_agents", defaults={"class_path": "receivers.known_agents.KnownAgentsReceiver", "options": {}}
    )
    if created:
        receiver.metric_types.set(MetricType.objects.all())


class Migration(migrations.Migration):
    dependencies = [
        ("receivers", "0003_statistics"),
        ("poa_backend", "0002_default_metric_types"),
    ]

    operations = [
        migrations.CreateModel(
            name="KnownAgent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("agent_id", models.CharField(max_length=255, unique=True)),
                ("first_seen", models.DateTimeField(help_text="When its first message arrived (UTC).")),
                (
                    "last_seen",
                    models.DateTimeField(help_text="When its latest message of any type arrived (UTC)."),
                ),
                (
                    "inactive_since",
                    models.DateTimeField(
                        blank=True, help_text="When it last went quiet, said bye or disconnected.", null=True
                    ),
                ),
            ],
            options={"verbose_name": "known agent", "ordering": ["agent_id"]},
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
