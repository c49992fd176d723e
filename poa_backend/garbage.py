"""Python's cyclic garbage collector, set for a long-running server.

Once started, a serving process holds some 140,000 objects that live as long as it does
(Django, the apps, the plug-ins' state). The default collector walks every one of them in
each full collection: about 100 ms with the event loop stopped, several times in ten
seconds of agent traffic, which made most of the dashboards' delivery p99 at max rate. So
they are moved out of its sight once the process has started (``gc.freeze``), and the
youngest generation is collected after 2,000 net allocations rather than 700: most of a
request's objects are freed by reference counting before a collection looks at them.
Higher thresholds were faster still, but let garbage cycles pile up (10,000: twice the
memory per connected agent in ``bench memory``).

Each collection's pause is measured (``poa_gc_pause_seconds``), so an operator sees
whether the collector is what a latency spike was, and what it freed is counted
(``poa_gc_collected_objects_total``): objects only the collector can free are reference
cycles, which a request path should not make (DRF's view and its Request and Response did,
see ``handlers.rest.views.released``). The measuring callback takes no lock: a
collection starts wherever its thread allocates, also inside prometheus-client holding its
own lock (creating a labelled child), where observing the histogram would wait on that lock
forever. It notes each collection in a deque; the metrics sampler moves them to the metrics.
"""

import gc
import time
from collections import deque
from typing import Any

from poa_backend.core.metrics import GC_COLLECTED, GC_FROZEN_OBJECTS, GC_PAUSE_SECONDS, register_sampler

#: Collect the youngest generation after this many net allocations (Python's default: 700),
#: the middle one after this many young collections and the oldest after this many of the
#: middle one (Python's defaults), and then only when it has grown by a quarter.
THRESHOLDS = (2_000, 10, 10)

_started_at: list[float] = []
#: (generation, seconds, objects freed) of the collections not reported yet; bounded should no
#: sampler run.
_collections: deque[tuple[int, float, int]] = deque(maxlen=10_000)


def _time_collection(phase: str, info: dict[str, Any]) -> None:
    """The collector's callback: no lock, no metric call (see the module's docstring)."""
    if phase == "start":
        _started_at[:] = [time.perf_counter()]
    elif _started_at:
        seconds = time.perf_counter() - _started_at.pop()
        _collections.append((info["generation"], seconds, info["collected"]))


def report_collections() -> None:
    """Move the collections noted since the last call into the metrics."""
    while True:
        try:
            generation, seconds, collected = _collections.popleft()
        except IndexError:  # none left (a scrape and the sampler may both be reporting)
            return
        GC_PAUSE_SECONDS.labels(generation=str(generation)).observe(seconds)
        if collected:
            GC_COLLECTED.labels(generation=str(generation)).inc(collected)


def settle() -> None:
    """Called once a serving process has started, before it serves: what exists now is
    kept for good, the rest collected as it goes."""
    gc.collect()
    gc.freeze()
    GC_FROZEN_OBJECTS.set(gc.get_freeze_count())
    gc.set_threshold(*THRESHOLDS)
    if _time_collection not in gc.callbacks:
        gc.callbacks.append(_time_collection)
    register_sampler(report_collections)
