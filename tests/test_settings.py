"""Start-up configuration: the embedded default needs nothing, production needs its secrets."""

import os
import subprocess
import sys

from tests.live import ROOT


def run_manage(*args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SECRET_KEY", "POA_JWT_SECRET", "DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_generates_and_keeps_its_secrets(tmp_path):
    first = run_manage("check", POA_DATA_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert run_manage("check", POA_DATA_DIR=str(tmp_path)).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


def test_a_missing_production_secret_is_a_one_line_error_naming_it(tmp_path):
    result = run_manage(
        "check", POA_DATA_DIR=str(tmp_path), DATABASE_URL="postgres://postgres@127.0.0.1:5432/test", DEBUG="0"
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DJANGO_SECRET_KEY" in lines[0]
    result = run_manage(
        "check",
        POA_DATA_DIR=str(tmp_path),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DJANGO_SECRET_KEY="x" * 50,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "poa_backend: configuration error: "
        "POA_JWT_SECRET must be set when DATABASE_URL is set and DEBUG is off"
    ]


def test_every_backend_setting_is_in_the_operations_guide():
    from pathlib import Path

    from poa_backend.core.conf import DEFAULTS

    guide = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
    assert [name for name in DEFAULTS if f"`POA_{name}`" not in guide] == []
