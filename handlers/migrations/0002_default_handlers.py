from django.db import migrations

DEFAULT_HANDLERS = [
    ("rest", "handlers.rest.RestHandler", {"scheme": "http", "port": 4002}),
    ("auth", "handlers.auth.AuthHandler", {"scheme": "https", "port": 4003}),
]


def seed(apps, schema_editor):
    CustomHandler = apps.get_model("handlers", "CustomHandler")
    for name, class_path, options in DEFAULT_HANDLERS:
        CustomHandler.objects.get_or_create(
            name=name, defaults={"class_path": class_path, "options": options}
        )


class Migration(migrations.Migration):
    dependencies = [("handlers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
