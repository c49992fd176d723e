from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class PoaBackendConfig(AppConfig):
    name = "poa_backend"
    verbose_name = "POA backend"

    def ready(self) -> None:
        from poa_backend import metrics
        from poa_backend.models import MetricType, PluginRow
        from poa_backend.signals import agent_inactive, backend_started, backend_stopping, message_received
        from poa_backend.snapshot import invalidate_all

        message_received.connect(metrics.on_message_received, dispatch_uid="poa_backend.metrics")
        agent_inactive.connect(metrics.on_agent_inactive, dispatch_uid="poa_backend.metrics")
        backend_started.connect(metrics.start, dispatch_uid="poa_backend.metrics")
        backend_stopping.connect(metrics.stop, dispatch_uid="poa_backend.metrics")

        def configuration_changed(sender: type, **kwargs: object) -> None:
            if issubclass(sender, (MetricType, PluginRow)) or sender._meta.auto_created:
                invalidate_all()

        post_save.connect(configuration_changed, weak=False)
        post_delete.connect(configuration_changed, weak=False)
        m2m_changed.connect(configuration_changed, weak=False)
