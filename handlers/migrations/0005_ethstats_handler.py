from django.db import migrations

NAME = "ethstats"
CLASS_PATH = "handlers.ethstats.EthstatsHandler"
# eth-netstats' port: ``--ethstats name:secret@host:3000`` works unchanged.
OPTIONS = {"scheme": "http", "port": 3000, "path": "/api"}


def seed(apps, schema_editor):
    CustomHandler = apps.get_model("handlers", "CustomHandler")
    CustomHandler.objects.get_or_create(name=NAME, defaults={"class_path": CLASS_PATH, "options": OPTIONS})


def unseed(apps, schema_editor):
    apps.get_model("handlers", "CustomHandler").objects.filter(name=NAME, class_path=CLASS_PATH).delete()


class Migration(migrations.Migration):
    dependencies = [("handlers", "0004_agent_socket_handler")]
    operations = [migrations.RunPython(seed, unseed)]
