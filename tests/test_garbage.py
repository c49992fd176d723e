"""The garbage collector of a serving process: start-up objects frozen, each pause measured."""

import gc
import os
import subprocess
import sys

import pytest

from poa_backend import garbage
from poa_backend.core.metrics import GC_PAUSE_SECONDS
from tests.live import ROOT
from tests.test_metrics import scrape, value

# A settled process, collecting at nearly every allocation, creates labelled metric children:
# prometheus-client allocates while holding its lock, so collections start inside it.
COLLECTING_INSIDE_METRICS = """
import gc
import django
django.setup()
from poa_backend import garbage
from poa_backend.core.metrics import AGENTS_INACTIVE, GC_PAUSE_SECONDS
garbage.settle()
gc.set_threshold(1)
for n in range(300):
    AGENTS_INACTIVE.labels(source=f"source-{n}").inc()
gc.set_threshold(*garbage.THRESHOLDS)
garbage.report_pauses()
print(sum(bucket.get() for bucket in GC_PAUSE_SECONDS.labels(generation="0")._buckets))
"""


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
        garbage.report_pauses()  # what the metrics sampler does every few seconds
    finally:
        gc.callbacks.remove(garbage._time_collection)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    after = pauses._sum.get(), sum(bucket.get() for bucket in pauses._buckets)
    assert after[1] - before[1] == 2
    assert after[0] > before[0]


def test_a_collection_that_starts_inside_a_metric_update_does_not_hang_the_process(tmp_path):
    env = {**os.environ, "POA_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "poa_backend.settings"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", COLLECTING_INSIDE_METRICS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,  # it takes about a second; a deadlock never ends
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung: the collector's callback waited on a lock its thread held")
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 0  # and the collections it made were reported
