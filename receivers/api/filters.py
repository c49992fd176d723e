"""Query parameters of the history API: which agent, which time range, which state."""

import django_filters

from receivers.models import EthereumStatistics, KnownAgent, SystemStatistics


class StatisticsFilter(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent_id", help_text="Only this agent's rows.")
    since = django_filters.IsoDateTimeFilter(
        field_name="date", lookup_expr="gte", help_text="Rows at or after this time (ISO 8601)."
    )
    until = django_filters.IsoDateTimeFilter(
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
    seen_since = django_filters.IsoDateTimeFilter(
        field_name="last_seen", lookup_expr="gte", help_text="Heard from at or after this time."
    )

    class Meta:
        model = KnownAgent
        fields = ["active", "seen_since"]
