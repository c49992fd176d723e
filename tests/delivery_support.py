"""Helpers for delivery tests: each test its own spool directory.

Import ``own_spools`` into a test module (it is autouse there): in-process
dispatchers then spool under the test's tmp_path, so what one test leaves in a
spool never reaches the next.
"""

import pytest


@pytest.fixture(autouse=True)
def own_spools(settings, tmp_path):
    settings.POA_BACKEND = {**settings.POA_BACKEND, "SPOOL_DIR": str(tmp_path / "spool")}
    return tmp_path / "spool"
