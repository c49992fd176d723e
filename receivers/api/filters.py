"""Query parameters of the history API: which agent, which time range, which state."""

import datetime

import django_filters
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from receivers.models import EthereumStatistics, KnownAgent, SystemStatistics


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time, compared in UTC: ISO 8601 allows offsets the database refuses
    (PostgreSQL stops at 15:59), so the offset is applied here."""

    def filter(self, qs: QuerySet, value: datetime.datetime | None) -> QuerySet:
        if value is not None:
            try:
                value = value.astimezone(datetime.UTC)
            except OverflowError:
                raise ValidationError("a time in the filters is out of range")
        return super().filter(qs, value)


class StatisticsFilter(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent_id", help_text="Only this agent's rows.")
    since = UTCDateTimeFilter(
        field_name="date", lookup_expr="gte", help_text="Rows at or after this time (ISO 8601)."
    )
    until = UTCDateTimeFilter(
        field_name="date", lookup_expr="lt", help_text="Rows before this time (ISO 8601)."
    )


class EthereumStatisticsFilter(StatisticsFilter):
    class Meta:
        model = EthereumStatistics
        fields = ["agent", "since", "until"]


class SystemStatisticsFilter(StatisticsFilter):
    class Meta:
        model = SystemStatistics
        fields = ["agent", "since", "until"]


class KnownAgentFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter(
        field_name="is_active", help_text="Only active (or inactive) agents."
    )
    seen_since = UTCDateTimeFilter(
        field_name="last_seen", lookup_expr="gte", help_text="Heard from at or after this time."
    )

    class Meta:
        model = KnownAgent
        fields = ["active", "seen_since"]
