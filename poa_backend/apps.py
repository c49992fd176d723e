from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class PoaBackendConfig(AppConfig):
    name = "poa_backend"
    verbose_name = "POA backend"

    def ready(self) -> None:
        from poa_backend.models import MetricType, PluginRow
        from poa_backend.snapshot import invalidate_all

        def configuration_changed(sender: type, **kwargs: object) -> None:
            if issubclass(sender, (MetricType, PluginRow)) or sender._meta.auto_created:
                invalidate_all()

        post_save.connect(configuration_changed, weak=False)
        post_delete.connect(configuration_changed, weak=False)
        m2m_changed.connect(configuration_changed, weak=False)
