"""The garbage collector of a serving process: start-up objects frozen, each collection measured,
and agent calls that leave nothing for it."""

import gc
import http.client
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from handlers.auth.tokens import issue_token
from poa_backend import garbage
from poa_backend.core.metrics import GC_PAUSE_SECONDS
from tests.agent_client import create_agent_user, sample
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
garbage.report_collections()
print(sum(bucket.get() for bucket in GC_PAUSE_SECONDS.labels(generation="0")._buckets))
"""


def test_a_started_backend_keeps_its_start_up_objects_out_of_collection(live_backend):
    backend = live_backend()
    frozen = value(scrape(backend.url("rest")), "poa_gc_frozen_objects")
    # Django and the apps alone are tens of thousands of objects; an unfrozen process shows 0.
    assert frozen > 20_000, frozen


def test_agent_calls_leave_no_reference_cycles_to_the_collector(live_backend):
    create_agent_user("cycles-agent", "cycles-pass-1")
    headers = {"Authorization": f"Bearer {issue_token('cycles-agent')}", "Content-Type": "application/json"}
    # No re-reading of the configuration meanwhile: its querysets are cycles of their own.
    backend = live_backend(env={"POA_CONFIG_REFRESH_INTERVAL": "3600"})
    rest = backend.url("rest")
    calls = 1_000
    before = collected_objects(rest)
    url = urlsplit(rest)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        for n in range(calls):
            path, call = ("/ping", {"id": "cycles-node"}) if n % 2 else ("/data", sample("statistics"))
            connection.request("POST", path, json.dumps({**call, "id": "cycles-node"}), headers)
            reply = connection.getresponse()
            assert (reply.status, reply.read()) == (200, b'{"result":"success"}')
    finally:
        connection.close()
    collected = collected_objects(rest) - before
    # DRF's view, Request and Response referring to one another left some thirty objects
    # per call (30,000 here); what is left is the process's own background work.
    assert collected < calls, collected


def collected_objects(base_url: str) -> float:
    values = scrape(base_url)
    return sum(value(values, "poa_gc_collected_objects_total", generation=str(n)) for n in range(3))


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
        garbage.report_collections()  # what the metrics sampler does every few seconds
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
