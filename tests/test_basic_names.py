"""A Basic user name no account can have (a NUL, a control character) is a counted 401, never a
database error: on the agents' /session and on the staff history API."""

import base64

import pytest

from tests.agent_client import CONTENT_TYPES, request

NAMES = ["node\x00one", "node\x1bone", "\x00"]


def basic(name: str, password: str = "a-long-password") -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


@pytest.mark.parametrize("name", NAMES)
def test_unstorable_names_are_refused_as_credentials(live_backend, name):
    backend = live_backend()
    session = request(
        backend.url("auth"),
        "/session",
        b"{}",
        {"Content-Type": CONTENT_TYPES["json"], "Authorization": basic(name)},
    )
    assert session.status == 401
    history = request(
        backend.url("auth"), "/api/agents/", method="GET", headers={"Authorization": basic(name)}
    )
    assert history.status == 401
