"""The two background loops of each serving process: evaluate the rules, deliver the events."""

from django.core.cache import cache
from django.db import close_old_connections

from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from receivers.alerts import delivery, engine

#: The cache key a process claims an interval's evaluation with.
TURN_KEY = "alerts:evaluation-turn"


def my_turn() -> bool:
    """Whether this process judges the rules this interval: the first to claim it does. With
    ``--workers`` the processes share the cache (Redis), so the network view is read and the
    rules judged once an interval, not once per process; a claim outlives its process by one
    interval at most. Redis keeps a claim for whole seconds: with an interval under a second,
    every process judges every interval."""
    return cache.add(TURN_KEY, True, timeout=poa_settings.ALERT_EVALUATION_INTERVAL)


def evaluate_once() -> None:
    """One pass over the view of this process's network receiver (none running: nothing to judge)."""
    from receivers.network.receiver import running

    close_old_connections()
    receiver = running()
    if receiver is not None and my_turn():
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
