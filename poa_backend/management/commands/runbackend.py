"""Run the backend: migrate, open every listener the enabled plug-ins name, serve, drain on stop."""

import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from poa_backend import garbage
from poa_backend.core import lifecycle
from poa_backend.core.plugins import LISTEN_BACKLOG, Listener, active_plugins, configured_plugins
from poa_backend.server import Server
from poa_backend.tls import ensure_self_signed_pair
from poa_backend.workers import (
    WorkerPool,
    adopt_listeners,
    check_shared_state,
    parse_inherited,
)

logger = logging.getLogger("poa_backend.runbackend")


def endpoint_description(listener: Listener) -> str:
    """The Twisted endpoint string Daphne listens on for ``listener``."""
    interface = listener.host.replace(":", r"\:")
    common = f"port={listener.port}:interface={interface}:backlog={LISTEN_BACKLOG}"
    if listener.scheme == "http":
        return f"tcp:{common}"
    if listener.certfile:
        cert, key = listener.certfile, listener.keyfile
    else:
        cert, key = ensure_self_signed_pair(settings.DATA_DIR / "tls")
    return f"ssl:{common}:privateKey={key}:certKey={cert}"


def collect_listeners(plugins: list[Any]) -> list[Listener]:
    """One listener per port; two plug-ins may share a port only with the same scheme."""
    by_port: dict[int, Listener] = {}
    for plugin in plugins:
        listener = plugin.listener
        if listener is None:
            continue
        known = by_port.get(listener.port)
        if known is None:
            by_port[listener.port] = listener
        elif known.scheme != listener.scheme:
            raise CommandError(
                f"port {listener.port} is asked for as {known.scheme} and as {listener.scheme} "
                f"(plug-in {plugin.name})"
            )
    return sorted(by_port.values(), key=lambda item: item.port)


class Command(BaseCommand):
    help = "Apply migrations and serve every listener of the enabled handlers and receivers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Server processes sharing the listeners (more than 1 needs REDIS_URL and PostgreSQL).",
        )
        parser.add_argument("--inherit-listeners", default="", help="(internal) sockets a worker inherits.")

    def handle(self, *args: Any, **options: Any) -> None:
        check_shared_state(options["workers"])
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        if options["workers"] > 1:
            listeners = collect_listeners(configured_plugins())
            if not listeners:
                raise CommandError("no enabled handler or receiver names a port: nothing to listen on")
            status = WorkerPool(options["workers"], listeners).run()
            if status:
                raise SystemExit(status)
            return

        from poa_backend.asgi import application

        lifecycle.start()
        listeners = collect_listeners(active_plugins())
        if not listeners:
            lifecycle.stop()
            raise CommandError("no enabled handler or receiver names a port: nothing to listen on")

        server = Server(
            application=application,
            endpoints=[endpoint_description(listener) for listener in listeners],
            signal_handlers=True,
            listener_urls={listener.port: listener.url for listener in listeners},
            verbosity=0,
        )
        if options["inherit_listeners"]:
            inherited = parse_inherited(options["inherit_listeners"])
            adopt_listeners(server, inherited, {listener.port: listener for listener in listeners})
        garbage.settle()
        try:
            server.run()
        finally:
            logger.info("stopping: draining receivers")
            lifecycle.stop()
            logger.info("stopped")
        if server.listen_failures:
            raise CommandError("could not open every listener: " + "; ".join(server.listen_failures))
