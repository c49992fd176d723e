from django.apps import AppConfig


class HandlersConfig(AppConfig):
    name = "handlers"
    verbose_name = "Handlers and agents"

    def ready(self) -> None:
        from handlers.registry import enabled_handlers
        from poa_backend.routing import register_plugin_source

        register_plugin_source(enabled_handlers.get)
