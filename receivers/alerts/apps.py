from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "receivers.alerts"
    label = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from poa_backend.core.signals import backend_started, backend_stopping
        from receivers.alerts import loops

        backend_started.connect(loops.start, weak=False, dispatch_uid="alerts.start")
        backend_stopping.connect(loops.stop, weak=False, dispatch_uid="alerts.stop")
