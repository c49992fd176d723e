"""A node-down alert end to end: a simulated agent stops, the rule fires into a real Alertmanager
(Debian's ``prometheus-alertmanager`` on a free port), and resolves there when the agent returns."""

import pytest

from receivers.alerts.models import AlertDestination, AlertEvent, AlertRule, Delivery
from tests.alerting_support import Alertmanager
from tests.live import wait_until
from tests.network_support import KeepAlive, agents, make_staff, staff_get

INACTIVITY_TIMEOUT = 1.5


@pytest.fixture
def alertmanager():
    manager = Alertmanager()
    yield manager
    manager.stop()


def node_is_up(api, node):
    return any(n["id"] == node and n["active"] for n in staff_get(api, "/api/nodes/"))


def node_alerts(alertmanager, node):
    return [
        alert
        for alert in alertmanager.alerts()
        if alert["labels"].get("alertname") == "node_down" and alert["labels"].get("node") == node
    ]


def test_a_stopped_agent_fires_node_down_in_alertmanager_and_resolves_when_it_returns(
    live_backend, alertmanager
):
    make_staff()
    AlertRule.objects.filter(name="node_down").update(for_seconds=1)
    AlertDestination.objects.create(name="alertmanager", kind="alertmanager", url=alertmanager.url)
    backend = live_backend(env={"POA_INACTIVITY_TIMEOUT": str(INACTIVITY_TIMEOUT)})
    agent = agents(backend.url("rest"), "validator-7")["validator-7"]

    alive = KeepAlive(agent)
    api = backend.url("auth")
    assert wait_until(lambda: node_is_up(api, "validator-7"), timeout=10)
    assert not Delivery.objects.exists()
    alive.stop()  # the agent stops: inactive after the timeout, firing one second later

    assert wait_until(lambda: node_alerts(alertmanager, "validator-7"), timeout=15), backend.log[-3000:]
    (alert,) = node_alerts(alertmanager, "validator-7")
    assert alert["status"]["state"] == "active"
    assert alert["labels"] == {
        "alertname": "node_down",
        "node": "validator-7",
        "network": "poa",
        "severity": "critical",
    }
    assert "down" in alert["annotations"]["summary"]
    fired = AlertEvent.objects.get(kind="fired", node="validator-7")
    # Alertmanager holds the alert as soon as it answered the POST; the attempt is recorded after that
    assert wait_until(lambda: fired.deliveries.get().status == "delivered", timeout=5)
    assert fired.deliveries.get().attempt_log.filter(ok=True).count() == 1

    alive = KeepAlive(agent)  # it returns
    try:
        assert wait_until(lambda: not node_alerts(alertmanager, "validator-7"), timeout=15)
        resolved = AlertEvent.objects.get(kind="resolved", node="validator-7")
        assert resolved.started_at == fired.at
        assert wait_until(lambda: resolved.deliveries.get().status == "delivered", timeout=5)
    finally:
        alive.stop()
    assert AlertEvent.objects.filter(node="validator-7").count() == 2
