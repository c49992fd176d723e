"""Stored statistics in the admin: listed newest first, filtered, paginated, never editable."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from receivers.models import EthereumStatistics, SystemStatistics

START = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.org", "a-long-password"))
    return client


@pytest.fixture
def rows(db):
    EthereumStatistics.objects.bulk_create(
        EthereumStatistics(
            date=START + timedelta(minutes=n),
            agent_id=f"node-{n % 2}",
            active=True,
            mining=False,
            hashrate=0,
            peers=n,
            gas_price=1,
        )
        for n in range(150)
    )
    SystemStatistics.objects.bulk_create(
        SystemStatistics(
            date=START + timedelta(days=n), agent_id="node-0", cpu_load=n, disk_usage=1, memory_usage=2
        )
        for n in range(3)
    )


def test_ethereum_statistics_newest_first_paginated_and_filtered(admin_client, rows):
    url = reverse("admin:receivers_ethereumstatistics_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    listed = list(page.context["cl"].result_list)
    assert len(listed) == 100
    assert [row.peers for row in listed[:3]] == [149, 148, 147]

    second = admin_client.get(url, {"p": 2})
    assert len(second.context["cl"].result_list) == 50

    node_1 = admin_client.get(url, {"agent_id": "node-1"})
    assert {row.agent_id for row in node_1.context["cl"].result_list} == {"node-1"}
    assert node_1.context["cl"].result_count == 75

    day = admin_client.get(url, {"date__year": 2026, "date__month": 6, "date__day": 16})
    assert day.context["cl"].result_count == 150


def test_system_statistics_listed_by_date(admin_client, rows):
    url = reverse("admin:receivers_systemstatistics_changelist")
    page = admin_client.get(url, {"date__year": 2026, "date__month": 6, "date__day": 17})
    assert page.status_code == 200
    assert [row.cpu_load for row in page.context["cl"].result_list] == [1.0]


@pytest.mark.parametrize("model", [EthereumStatistics, SystemStatistics])
def test_stored_statistics_cannot_be_added_changed_or_deleted(admin_client, rows, model):
    name = model._meta.model_name
    row = model.objects.first()
    assert admin_client.get(reverse(f"admin:receivers_{name}_add")).status_code == 403
    assert admin_client.get(reverse(f"admin:receivers_{name}_delete", args=[row.pk])).status_code == 403
    view = admin_client.get(reverse(f"admin:receivers_{name}_change", args=[row.pk]))
    assert view.status_code == 200  # a read-only view
    assert not view.context["has_change_permission"]
    posted = admin_client.post(reverse(f"admin:receivers_{name}_change", args=[row.pk]), {"agent_id": "x"})
    assert posted.status_code == 403
    assert model.objects.get(pk=row.pk).agent_id == row.agent_id
    changelist = admin_client.get(reverse(f"admin:receivers_{name}_changelist"))
    assert not changelist.context["has_add_permission"]
    assert "action_checkbox" not in changelist.context["cl"].list_display
