"""The two background loops of each serving process: evaluate the rules, deliver the events."""

from django.db import close_old_connections

from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from receivers.alerts import delivery, engine


def evaluate_once() -> None:
    """One pass over the view of this process's network receiver (none running: nothing to judge)."""
    from receivers.network.receiver import running

    close_old_connections()
    receiver = running()
    if receiver is not None:
        engine.evaluate(receiver.view())


def deliver_once() -> None:
    close_old_connections()
    delivery.deliver_due()
    delivery.resend_firing()


evaluator = Loop("alerts-evaluator", evaluate_once, lambda: poa_settings.ALERT_EVALUATION_INTERVAL)
deliverer = Loop("alerts-deliverer", deliver_once, lambda: poa_settings.ALERT_DELIVERY_INTERVAL)


def start(**kwargs: object) -> None:
    evaluator.start()
    deliverer.start()


def stop(**kwargs: object) -> None:
    evaluator.stop()
    deliverer.stop()
    close_old_connections()
