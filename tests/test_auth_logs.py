"""No password, password hash or token reaches the logs, on success or on failure."""

import base64
import logging

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from handlers.models import AgentUser
from tests.auth_client import AuthClient

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

ADMIN = ("operator", "operator-secret-1")
AGENT = ("agent-logs", "agent-secret-2")
WRONG = "wrong-secret-3"


def secrets_of(token):
    values = [ADMIN[1], AGENT[1], WRONG, token, token.split(".")[2]]
    values += [AgentUser.objects.get(name=AGENT[0]).password, User.objects.get(username=ADMIN[0]).password]
    for name, password in [ADMIN, AGENT, (AGENT[0], WRONG), (ADMIN[0], WRONG)]:
        values.append(base64.b64encode(f"{name}:{password}".encode()).decode())
    return values


def test_the_server_logs_no_secret(live_backend):
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True)
    backend = live_backend(env={"LOG_LEVEL": "DEBUG"})
    client = AuthClient(backend.url("auth"), "msgpack")
    assert client.call("POST", "/user", {"user-name": AGENT[0], "password": AGENT[1]}, auth=ADMIN).ok
    token = client.session_token(*AGENT)
    assert client.call("POST", "/session", {}, auth=(AGENT[0], WRONG)).status_code == 401
    assert client.call("GET", "/user", auth=(ADMIN[0], WRONG)).status_code == 401
    assert client.call("POST", "/blacklist/token", {"token": token}, auth=ADMIN).status_code == 200
    backend.stop()
    log = backend.log
    assert "credentials refused" in log  # the failures are logged, without what was tried
    assert "agent user agent-logs created by operator" in log
    for secret in secrets_of(token):
        assert secret not in log


@pytest.mark.django_db
def test_this_process_logs_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    User.objects.create_user(ADMIN[0], password=ADMIN[1], is_staff=True)
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    )
    body = {"user-name": AGENT[0], "password": AGENT[1]}
    assert client.post("/user", body, format="json", secure=True).status_code == 200
    agent = APIClient()
    agent.credentials(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{AGENT[0]}:{AGENT[1]}".encode()).decode()
    )
    token = agent.post("/session", {}, format="json", secure=True).json()["token"]
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{AGENT[0]}:{WRONG}".encode()).decode())
    assert wrong.post("/session", {}, format="json", secure=True).status_code == 401
    assert "credentials refused" in caplog.text
    for secret in secrets_of(token):
        assert secret not in caplog.text
