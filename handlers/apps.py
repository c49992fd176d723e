from django.apps import AppConfig


class HandlersConfig(AppConfig):
    name = "handlers"
    verbose_name = "Handlers and agents"

    def ready(self) -> None:
        from handlers.auth import tokens
        from handlers.auth.purge import ban_purger
        from handlers.models import CustomHandler
        from handlers.registry import enabled_handlers
        from poa_backend.core.plugins import register_plugins
        from poa_backend.core.signals import backend_started, backend_stopping

        register_plugins(CustomHandler, enabled_handlers)
        tokens.connect_invalidation()
        backend_started.connect(ban_purger.start, dispatch_uid="handlers.ban_purge")
        backend_stopping.connect(ban_purger.stop, dispatch_uid="handlers.ban_purge")
        backend_started.connect(tokens.verdict_refresher.start, dispatch_uid="handlers.token_verdicts")
        backend_stopping.connect(tokens.verdict_refresher.stop, dispatch_uid="handlers.token_verdicts")
