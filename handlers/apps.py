from django.apps import AppConfig


class HandlersConfig(AppConfig):
    name = "handlers"
    verbose_name = "Handlers and agents"

    def ready(self) -> None:
        from handlers.auth import receivers  # noqa: F401 - ban purge, token-verdict invalidation
        from handlers.registry import enabled_handlers
        from poa_backend.routing import register_plugin_source

        register_plugin_source(enabled_handlers.get)

        from handlers import presence
        from poa_backend.signals import backend_started, backend_stopping

        backend_started.connect(presence.start_monitor, dispatch_uid="handlers.presence.start")
        backend_stopping.connect(presence.stop_monitor, dispatch_uid="handlers.presence.stop")
