from django.apps import AppConfig


class ReceiversConfig(AppConfig):
    name = "receivers"
    verbose_name = "Receivers and statistics"

    def ready(self) -> None:
        from poa_backend.core.health import register_sinks
        from poa_backend.core.plugins import register_plugins
        from poa_backend.core.signals import (
            agent_inactive,
            backend_started,
            backend_stopping,
            message_received,
            out_of_band_message,
        )
        from receivers import metrics as receiver_metrics
        from receivers.dispatch import dispatcher
        from receivers.health import durable_sinks
        from receivers.models import Receiver
        from receivers.out_of_band import subscriber

        message_received.connect(dispatcher.on_message, dispatch_uid="receivers.dispatch")
        agent_inactive.connect(dispatcher.on_inactive, dispatch_uid="receivers.dispatch")
        out_of_band_message.connect(dispatcher.on_out_of_band, dispatch_uid="receivers.dispatch")
        backend_started.connect(
            lambda **kwargs: dispatcher.start(), weak=False, dispatch_uid="receivers.start"
        )
        backend_stopping.connect(
            lambda **kwargs: dispatcher.stop(), weak=False, dispatch_uid="receivers.stop"
        )
        backend_started.connect(subscriber.start, dispatch_uid="receivers.out_of_band")
        backend_stopping.connect(subscriber.stop, dispatch_uid="receivers.out_of_band")
        register_plugins(Receiver, dispatcher.plugins)
        register_sinks(durable_sinks)
        receiver_metrics.register()
