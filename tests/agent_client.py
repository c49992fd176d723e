"""Speak to a running backend the way the reference agent does: raw HTTP, exact headers."""

import base64
import http.client
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgpack
from django.contrib.auth.hashers import make_password

from handlers.models import AgentUser

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "agent"
CONTENT_TYPES = {"json": "application/json", "msgpack": "application/msgpack"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def encode(value: Any, encoding: str) -> bytes:
    if encoding == "json":
        return json.dumps(value).encode()
    return msgpack.packb(value, use_bin_type=True)


def request(
    base_url: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    timeout: float = 10.0,
) -> Reply:
    """One request on a fresh connection; only the headers given (plus Host and Content-Length)."""
    url = urlsplit(base_url)
    if url.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the live server's self-signed pair
        connection = http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if method not in ("GET", "HEAD") or body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def call(
    base_url: str,
    path: str,
    value: Any,
    encoding: str = "msgpack",
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An agent call: ``value`` encoded as ``encoding`` with its Content-Type, and the bearer token."""
    sent = {"Content-Type": CONTENT_TYPES[encoding]}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    return request(base_url, path, encode(value, encoding), sent)


def create_agent_user(name: str, password: str, active: bool = True) -> AgentUser:
    return AgentUser.objects.create(name=name, password=make_password(password), is_active=active)


def new_session(auth_url: str, name: str, password: str, agent_id: str | None = None) -> str:
    """A token from ``POST /session`` on the auth listener (HTTPS), as the agent gets one."""
    credentials = base64.b64encode(f"{name}:{password}".encode()).decode()
    body = {"agent-id": agent_id} if agent_id else {}
    reply = request(
        auth_url,
        "/session",
        encode(body, "msgpack"),
        {"Content-Type": CONTENT_TYPES["msgpack"], "Authorization": f"Basic {credentials}"},
    )
    assert reply.status == 200, (reply.status, reply.body)
    return reply.json()["token"]


def sample(name: str) -> dict[str, Any]:
    """A whole ``/data`` body the reference agent sends (``tests/fixtures/agent/<name>.json``)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())
