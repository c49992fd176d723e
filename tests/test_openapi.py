"""The OpenAPI description of the running server: valid, complete, browsable offline, and fuzzed."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from openapi_spec_validator import validate

from tests.agent_client import request

ROOT = Path(__file__).resolve().parent.parent
EVERY_OPERATION = {
    ("/ping", "post"),
    ("/data", "post"),
    ("/bye", "post"),
    ("/session", "post"),
    ("/user", "get"),
    ("/user", "post"),
    ("/user/{name}", "delete"),
    ("/user/{name}", "patch"),
    ("/blacklist/token", "post"),
    ("/blacklist/user", "post"),
    ("/api/agents/", "get"),
    ("/api/agents/{agent_id}/", "get"),
    ("/api/ethereum-statistics/", "get"),
    ("/api/ethereum-statistics/{id}/", "get"),
    ("/api/ethereum-statistics/series/", "get"),
    ("/api/system-statistics/", "get"),
    ("/api/system-statistics/{id}/", "get"),
    ("/api/system-statistics/series/", "get"),
}


@pytest.fixture
def backend(live_backend):
    return live_backend()


def schema_of(base_url):
    reply = request(base_url, "/api/schema/?format=json", method="GET")
    assert reply.status == 200
    return reply.json()


def test_schema_validates_and_lists_every_endpoint_with_its_contract(backend):
    schema = schema_of(backend.url("rest"))
    validate(schema)
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    # The handlers' operations exactly; receivers may add their own read APIs under /api/.
    assert {op for op in operations if not op[0].startswith("/api/")} == {
        op for op in EVERY_OPERATION if not op[0].startswith("/api/")
    }
    assert EVERY_OPERATION <= operations

    data = schema["paths"]["/data"]["post"]
    assert set(data["responses"]) == {"200", "400", "401", "413", "415", "422"}
    assert set(data["requestBody"]["content"]) == {"application/json", "application/msgpack"}
    assert data["security"] == [{"agentToken": []}]
    assert set(schema["paths"]["/user"]["post"]["responses"]) >= {"200", "401", "409", "415"}
    assert schema["components"]["securitySchemes"]["agentToken"]["scheme"] == "bearer"
    series = schema["paths"]["/api/ethereum-statistics/series/"]["get"]
    interval = next(p for p in series["parameters"] if p["name"] == "interval")
    assert set(interval["schema"]["enum"]) == {"second", "minute", "hour", "day"}


def test_docs_page_and_its_assets_are_served_by_the_backend(backend):
    base = backend.url("auth")  # staff pages are served over HTTPS
    page = request(base, "/api/docs/", method="GET")
    assert page.status == 200
    html = page.body.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert not [source for source in sources if source.startswith(("http:", "https:", "//"))]
    for source in sources:
        asset = request(base, source, method="GET")
        assert asset.status == 200, source
        assert asset.body


def schemathesis(schema_path, base, *filters, cwd):
    """One bounded ``st run`` of the not-a-server-error check; returns (passed, output)."""
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            str(schema_path),
            "--url",
            base,
            *filters,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--seed",
            "7",
            "--phases",
            "examples,fuzzing",
            "--tls-verify",
            "false",
            "--auth",
            "fuzzer:fuzzer-pass-1",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            "--suppress-health-check",
            "all",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=400,
    )
    return run.returncode == 0, run.stdout + run.stderr


def test_schemathesis_finds_no_server_error(live_db, backend, tmp_path):
    User.objects.create_user("fuzzer", password="fuzzer-pass-1", is_staff=True)
    schema_path = tmp_path / "schema.json"
    schema = schema_of(backend.url("auth"))
    schema_path.write_text(json.dumps(schema))
    agent_calls = r"^/(ping|data|bye)$"
    every = sum(len(item) for item in schema["paths"].values())
    # The agent calls on the REST listener; the auth and history API on the HTTPS one.
    for base, filters, operations in (
        (backend.url("rest"), ["--include-path-regex", agent_calls], 3),
        (backend.url("auth"), ["--exclude-path-regex", agent_calls], every - 3),
    ):
        passed, output = schemathesis(schema_path, base, *filters, cwd=tmp_path)
        assert passed, output[-6000:] + "\n--- server log ---\n" + backend.log[-4000:]
        assert f"Tested: {operations}" in output, output[-3000:]
        assert re.search(r"(\d+) generated, \1 passed", output), output[-3000:]
