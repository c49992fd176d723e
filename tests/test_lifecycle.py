"""Background loops: a service that is away is a line a try, a defect a traceback."""

import logging
import threading

from django.db import OperationalError

from poa_backend.core.lifecycle import Loop


def run_failing_step(error: Exception, caplog) -> str:
    tried = threading.Event()

    def step() -> None:
        tried.set()
        raise error

    loop = Loop("test-loop", step, interval=60, run_first=True, error_pause=60)
    with caplog.at_level(logging.WARNING, logger="poa_backend.core.lifecycle"):
        loop.start()
        assert tried.wait(5)
        loop.stop()
    return caplog.text


def test_a_step_that_finds_the_database_away_logs_one_line(caplog):
    text = run_failing_step(OperationalError("connection refused"), caplog)
    assert "test-loop: step failed: connection refused" in text
    assert "Traceback" not in text


def test_a_step_that_fails_otherwise_logs_its_traceback(caplog):
    text = run_failing_step(RuntimeError("a defect"), caplog)
    assert "Traceback" in text
    assert "RuntimeError: a defect" in text
