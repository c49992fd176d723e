"""Run inside the bench backend's environment (a subprocess): migrate, move every listener onto
a free 127.0.0.1 port, make the agents' credentials, and print all of it as JSON."""

import json
import os
import socket
import sys
from contextlib import closing


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    request = json.loads(sys.stdin.read() or "{}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poa_backend.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)

    from poa_backend.core.plugins import plugin_row_models
    from simulator.credentials import local_credentials

    for model in plugin_row_models():
        model.objects.filter(name__in=request.get("disable", [])).update(enabled=False)
    ports: dict[str, int] = {}
    by_old_port: dict[int, int] = {}
    for model in plugin_row_models():
        for row in model.objects.filter(enabled=True):
            if isinstance(row.options, dict) and "port" in row.options:
                new = by_old_port.setdefault(row.options["port"], free_port())
                row.options = {**row.options, "host": "127.0.0.1", "port": new}
                row.save(update_fields=["options"])
                ports[row.name] = new
    credentials = local_credentials(request.get("prefix", "bench"), int(request.get("agents", 0)))
    json.dump(
        {
            "ports": ports,
            "credentials": [[item.user, item.password, item.token] for item in credentials],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
