"""The garbage collector of a serving process: start-up objects frozen, each pause measured."""

import gc

from poa_backend import garbage
from poa_backend.core.metrics import GC_PAUSE_SECONDS
from tests.test_metrics import scrape, value


def test_a_started_backend_keeps_its_start_up_objects_out_of_collection(live_backend):
    backend = live_backend()
    frozen = value(scrape(backend.url("rest")), "poa_gc_frozen_objects")
    # Django and the apps alone are tens of thousands of objects; an unfrozen process shows 0.
    assert frozen > 20_000, frozen


def test_settling_raises_the_thresholds_and_times_every_collection():
    thresholds = gc.get_threshold()
    pauses = GC_PAUSE_SECONDS.labels(generation="1")
    before = pauses._sum.get(), sum(bucket.get() for bucket in pauses._buckets)
    try:
        garbage.settle()
        assert gc.get_threshold() == garbage.THRESHOLDS
        assert gc.get_freeze_count() > 0
        gc.collect(1)
        gc.collect(1)
    finally:
        gc.callbacks.remove(garbage._time_collection)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    after = pauses._sum.get(), sum(bucket.get() for bucket in pauses._buckets)
    assert after[1] - before[1] == 2
    assert after[0] > before[0]
