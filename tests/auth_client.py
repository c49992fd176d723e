"""A client for the auth endpoints over real HTTPS (self-signed: no verification), in JSON or MessagePack."""

import json
from typing import Any

import msgpack
import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the self-signed test certificate

CONTENT_TYPES = {"json": "application/json", "msgpack": "application/msgpack"}
NO_BODY = object()


def encode(encoding: str, body: Any) -> bytes:
    return json.dumps(body).encode() if encoding == "json" else msgpack.packb(body)


class AuthClient:
    def __init__(self, base_url: str, encoding: str = "json") -> None:
        self.base_url = base_url
        self.encoding = encoding
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        body: Any = NO_BODY,
        auth: tuple[str, str] | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        headers = dict(headers or {})
        data = None
        if body is not NO_BODY:
            raw = isinstance(body, bytes)  # sent as given, with only the Content-Type given
            data = body if raw else encode(self.encoding, body)
            content_type = content_type if raw else content_type or CONTENT_TYPES[self.encoding]
        if content_type:
            headers["Content-Type"] = content_type
        return self.session.request(
            method, self.base_url + path, data=data, auth=auth, headers=headers, timeout=30, verify=False
        )

    def session_token(self, name: str, password: str) -> str:
        response = self.call("POST", "/session", {"agent-id": name}, auth=(name, password))
        assert response.status_code == 200, response.content
        return response.json()["token"]
