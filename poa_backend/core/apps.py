from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class CoreConfig(AppConfig):
    name = "poa_backend.core"
    #: The label the app had before the core was split off: its tables, migrations
    #: and admin URLs stay as they were.
    label = "poa_backend"
    verbose_name = "POA backend"

    def ready(self) -> None:
        from poa_backend.core import metrics
        from poa_backend.core.models import MetricType, PluginRow
        from poa_backend.core.presence import monitor
        from poa_backend.core.signals import (
            agent_inactive,
            backend_started,
            backend_stopping,
            message_received,
        )
        from poa_backend.core.snapshot import invalidate_all

        message_received.connect(metrics.on_message_received, dispatch_uid="poa_backend.core.metrics")
        agent_inactive.connect(metrics.on_agent_inactive, dispatch_uid="poa_backend.core.metrics")
        backend_started.connect(metrics.start, dispatch_uid="poa_backend.core.metrics")
        backend_stopping.connect(metrics.stop, dispatch_uid="poa_backend.core.metrics")
        backend_started.connect(monitor.start, dispatch_uid="poa_backend.core.presence")
        backend_stopping.connect(monitor.stop, dispatch_uid="poa_backend.core.presence")

        def configuration_changed(sender: type, **kwargs: object) -> None:
            if issubclass(sender, (MetricType, PluginRow)) or sender._meta.auto_created:
                invalidate_all()

        post_save.connect(configuration_changed, weak=False)
        post_delete.connect(configuration_changed, weak=False)
        m2m_changed.connect(configuration_changed, weak=False)
