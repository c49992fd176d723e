"""History API: staff-only access, filters, ordering, pagination, downsampling, known agents."""

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from poa_backend.core.message import Message
from receivers.known_agents import KnownAgentsReceiver
from receivers.models import EthereumStatistics, KnownAgent, SystemStatistics

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
ENDPOINTS = [
    "/api/agents/",
    "/api/ethereum-statistics/",
    "/api/ethereum-statistics/series/",
    "/api/system-statistics/",
    "/api/system-statistics/series/",
]


def basic(name, password):
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


@pytest.fixture
def staff():
    return User.objects.create_user("operator", password="operator-pass", is_staff=True)


@pytest.fixture
def api(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic("operator", "operator-pass"))
    return client


def eth_row(agent_id, date, **fields):
    values = dict(active=True, mining=False, hashrate=0, peers=5, gas_price=1_000_000_000)
    values.update(fields)
    return EthereumStatistics.objects.create(agent_id=agent_id, date=date, **values)


def sys_row(agent_id, date, cpu=10.0, memory=20.0, disk=30.0):
    return SystemStatistics.objects.create(
        agent_id=agent_id, date=date, cpu_load=cpu, memory_usage=memory, disk_usage=disk
    )


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_callers_get_401_with_a_basic_challenge(path):
    response = APIClient().get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_users_who_are_not_staff_get_403(path):
    User.objects.create_user("viewer", password="viewer-pass")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic("viewer", "viewer-pass"))
    assert client.get(path).status_code == 403


def test_wrong_password_gets_401(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic("operator", "wrong"))
    assert client.get("/api/agents/").status_code == 401


def test_staff_session_from_the_admin_login_works(staff):
    client = APIClient()
    login = client.post(
        "/admin/login/?next=/api/agents/", {"username": "operator", "password": "operator-pass"}
    )
    assert login.status_code == 302
    assert client.get("/api/agents/").status_code == 200


def test_statistics_filter_by_agent_and_time_range(api):
    for minute in range(5):
        eth_row("a", T0 + timedelta(minutes=minute), peers=minute)
        eth_row("b", T0 + timedelta(minutes=minute), peers=10 + minute)

    response = api.get(
        "/api/ethereum-statistics/",
        {
            "agent": "a",
            "since": (T0 + timedelta(minutes=1)).isoformat(),
            "until": (T0 + timedelta(minutes=4)).isoformat(),
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["peers"] for row in body["results"]] == [3, 2, 1]  # newest first
    assert {row["agent_id"] for row in body["results"]} == {"a"}
    assert body["results"][0]["date"] == "2026-05-01T12:03:00Z"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/ethereum-statistics/", "since"),
        ("/api/system-statistics/", "until"),
        ("/api/agents/", "seen_since"),
    ],
)
def test_time_filters_take_any_iso_offset_and_refuse_what_is_out_of_range(api, path, parameter):
    # PostgreSQL refuses offsets over 15:59; ISO 8601 does not.
    assert api.get(path, {parameter: "3332-10-07T01:59:30.3+23:50"}).status_code == 200
    assert api.get(path, {parameter: "0001-01-01T00:00:00+05:00"}).status_code == 400


def test_a_time_filter_applies_its_offset(api):
    for minute in range(5):
        eth_row("a", T0 + timedelta(minutes=minute))
    far_east = timezone(timedelta(hours=23, minutes=50))
    since = (T0 + timedelta(minutes=2)).astimezone(far_east).isoformat()
    assert api.get("/api/ethereum-statistics/", {"since": since}).json()["count"] == 3


def test_statistics_ordering(api):
    for minute, peers in enumerate([7, 3, 9]):
        eth_row("a", T0 + timedelta(minutes=minute), peers=peers)
    assert [r["peers"] for r in api.get("/api/ethereum-statistics/?ordering=peers").json()["results"]] == [
        3,
        7,
        9,
    ]
    assert [r["peers"] for r in api.get("/api/ethereum-statistics/?ordering=date").json()["results"]] == [
        7,
        3,
        9,
    ]


def test_statistics_pagination(api):
    for second in range(7):
        sys_row("a", T0 + timedelta(seconds=second), cpu=float(second))

    first = api.get("/api/system-statistics/?page_size=3&ordering=date").json()
    assert first["count"] == 7
    assert [row["cpu_load"] for row in first["results"]] == [0.0, 1.0, 2.0]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    last = api.get("/api/system-statistics/?page_size=3&ordering=date&page=3").json()
    assert [row["cpu_load"] for row in last["results"]] == [6.0]
    assert last["next"] is None
    assert api.get("/api/system-statistics/?page_size=3&page=4").status_code == 404


def test_bad_query_values_are_400_with_the_reason(api):
    response = api.get("/api/ethereum-statistics/?since=yesterday")
    assert response.status_code == 400
    assert "since" in response.json()
    response = api.get("/api/ethereum-statistics/series/?interval=fortnight")
    assert response.status_code == 400
    assert "interval" in response.json()


def test_ethereum_series_is_one_point_per_agent_and_minute(api):
    # Three minutes of reports every 20 s for agent a, one report for agent b.
    for index in range(9):
        eth_row(
            "a",
            T0 + timedelta(seconds=20 * index),
            peers=index,
            active=index % 3 != 0,
            current_block=100 + index,
            highest_block=200 + index,
        )
    eth_row("b", T0 + timedelta(seconds=30), peers=50)

    response = api.get("/api/ethereum-statistics/series/", {"agent": "a", "interval": "minute"})
    assert response.status_code == 200
    points = response.json()["results"]
    assert [p["time"] for p in points] == [
        "2026-05-01T12:00:00Z",
        "2026-05-01T12:01:00Z",
        "2026-05-01T12:02:00Z",
    ]
    assert [p["samples"] for p in points] == [3, 3, 3]
    assert [p["peers_avg"] for p in points] == [1.0, 4.0, 7.0]
    assert [p["peers_max"] for p in points] == [2, 5, 8]
    assert [p["current_block_max"] for p in points] == [102, 105, 108]
    assert [round(p["active_ratio"], 3) for p in points] == [0.667, 0.667, 0.667]

    everyone = api.get("/api/ethereum-statistics/series/?interval=hour").json()["results"]
    assert [(p["agent_id"], p["samples"]) for p in everyone] == [("a", 9), ("b", 1)]

    ranged = api.get(
        "/api/ethereum-statistics/series/",
        {"agent": "a", "since": (T0 + timedelta(minutes=1)).isoformat(), "page_size": 1},
    ).json()
    assert ranged["count"] == 2
    assert [p["time"] for p in ranged["results"]] == ["2026-05-01T12:01:00Z"]


def test_system_series_averages_and_maxima(api):
    sys_row("a", T0, cpu=10.0, memory=40.0, disk=50.0)
    sys_row("a", T0 + timedelta(seconds=30), cpu=30.0, memory=60.0, disk=51.0)
    sys_row("a", T0 + timedelta(minutes=1), cpu=5.0, memory=10.0, disk=52.0)
    points = api.get("/api/system-statistics/series/?interval=minute").json()["results"]
    assert len(points) == 2
    assert points[0]["cpu_load_avg"] == 20.0
    assert points[0]["cpu_load_max"] == 30.0
    assert points[0]["memory_usage_avg"] == 50.0
    assert points[0]["disk_usage_max"] == 51.0
    assert points[1]["samples"] == 1
    assert points[1]["cpu_load_avg"] == 5.0


def message(agent_id, data_type="networking_metrics", received_at=None):
    fields = {"accepted_at": received_at.timestamp()} if received_at else {}
    return Message(agent_id, data_type, {"type": "latency", "body": {"latency": 3}}, **fields)


def active_by_agent(api, query=""):
    return {row["agent_id"]: row["active"] for row in api.get(f"/api/agents/{query}").json()["results"]}


def test_known_agents_last_seen_and_active_state(api):
    receiver = KnownAgentsReceiver("known_agents", {})
    now = datetime.now(UTC)
    receiver.handle_messages(
        [
            message("fresh", received_at=now - timedelta(seconds=1)),
            message(
                "fresh", received_at=now - timedelta(seconds=2)
            ),  # out of order: last_seen keeps the latest
            message("stale", received_at=now - timedelta(minutes=5)),
            message("left", received_at=now - timedelta(seconds=1)),
            message("stopped-mining", received_at=now - timedelta(seconds=1)),
        ]
    )
    receiver.handle_inactive_agents(["left"])
    eth_row("stopped-mining", now - timedelta(seconds=1), active=False)
    eth_row("fresh", now - timedelta(seconds=1), active=True)

    assert active_by_agent(api) == {"fresh": True, "left": False, "stale": False, "stopped-mining": False}
    assert set(active_by_agent(api, "?active=true")) == {"fresh"}
    assert set(active_by_agent(api, "?active=false")) == {"left", "stale", "stopped-mining"}

    detail = api.get("/api/agents/fresh/").json()
    assert detail["last_seen"] == (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert detail["reported_active"] is True
    assert api.get("/api/agents/nobody/").status_code == 404

    # The agent that left comes back: a message after its inactive event makes it active again.
    receiver.handle_messages([message("left")])
    assert active_by_agent(api)["left"] is True
    assert (
        KnownAgent.objects.get(agent_id="left").first_seen < KnownAgent.objects.get(agent_id="left").last_seen
    )


def test_agents_going_inactive_together_are_marked_in_one_go(api):
    """Over a thousand agents in one run (a network partition): every one listed is inactive,
    the others are not, however many statements the run takes."""
    receiver = KnownAgentsReceiver("known_agents", {})
    now = datetime.now(UTC)
    receiver.handle_messages([message(f"node-{n}", received_at=now) for n in range(1300)])
    receiver.handle_inactive_agents([f"node-{n}" for n in range(1200)] + ["never-seen"])
    inactive = set(KnownAgent.objects.filter(inactive_since__isnull=False).values_list("agent_id", flat=True))
    assert inactive == {f"node-{n}" for n in range(1200)}
