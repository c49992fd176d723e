"""Staff API of alerts: /api/alerts/ (events, newest first, with deliveries) and /api/alerts/active/."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from receivers.alerts.models import AlertEvent, AlertState
from receivers.api import alert_serializers as serializers
from receivers.api.views import HistoryViewSet


class AlertEventFilter(django_filters.FilterSet):
    node = django_filters.CharFilter(help_text="Only this node's events.")
    alert = django_filters.CharFilter(field_name="rule__name", help_text="Only this rule's events.")
    kind = django_filters.ChoiceFilter(choices=AlertEvent.Kind.choices)

    class Meta:
        model = AlertEvent
        fields = ["node", "alert", "kind"]


class AlertEventViewSet(HistoryViewSet):
    """Alert history: each fired and resolved event and what became of its deliveries."""

    serializer_class = serializers.AlertEventSerializer
    filterset_class = AlertEventFilter
    ordering_fields = ["at"]
    ordering = ["-at", "-id"]

    def get_queryset(self) -> QuerySet:
        return AlertEvent.objects.select_related("rule").prefetch_related("deliveries__destination")

    @extend_schema(
        responses=serializers.AlertStateSerializer(many=True),
        summary="Alerts pending or firing now",
        filters=False,
    )
    @action(detail=False, filter_backends=[], pagination_class=None)
    def active(self, request: Request) -> Response:
        states = AlertState.objects.exclude(state=AlertState.State.INACTIVE).select_related("rule")
        return Response(serializers.AlertStateSerializer(states, many=True).data)
