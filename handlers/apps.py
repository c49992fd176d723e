from django.apps import AppConfig


class HandlersConfig(AppConfig):
    name = "handlers"
    verbose_name = "Handlers and agents"

    def ready(self) -> None:
        from handlers import presence
        from handlers.auth import receivers  # noqa: F401  (ban purge, token-verdict invalidation)
        from handlers.registry import enabled_handlers
        from poa_backend.routing import register_plugin_source
        from poa_backend.signals import backend_started, backend_stopping

        register_plugin_source(enabled_handlers.get)
        backend_started.connect(presence.start_monitor, dispatch_uid="handlers.presence.start")
        backend_stopping.connect(presence.stop_monitor, dispatch_uid="handlers.presence.stop")
