from django.db import migrations

NAME = "agent_socket"
CLASS_PATH = "handlers.websocket.AgentSocketHandler"
# Same listener as the REST handler: runbackend opens one listener per port, serving both.
OPTIONS = {"scheme": "http", "port": 4002, "path": "/agent"}


def seed(apps, schema_editor):
    CustomHandler = apps.get_model("handlers", "CustomHandler")
    CustomHandler.objects.get_or_create(name=NAME, defaults={"class_path": CLASS_PATH, "options": OPTIONS})


def unseed(apps, schema_editor):
    apps.get_model("handlers", "CustomHandler").objects.filter(name=NAME, class_path=CLASS_PATH).delete()


class Migration(migrations.Migration):
    dependencies = [("handlers", "0003_agent_users_and_banned_tokens")]
    operations = [migrations.RunPython(seed, unseed)]
