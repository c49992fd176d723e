"""Read-only history API for staff (session or HTTP Basic): known agents and stored statistics.

Served over HTTPS only (poa_backend/security.py). Basic credentials are parsed strictly and
their failures throttled per address and per name, shared with the auth endpoints
(poa_backend/core/credentials.py): guessing a staff password here is as slow as anywhere.
"""

from django.db.models import Avg, Count, FloatField, IntegerField, Max, QuerySet
from django.db.models.functions import Cast, Trunc
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from poa_backend.core.credentials import FailedCredentialsThrottled, StrictBasicAuthentication
from receivers.api import filters, serializers
from receivers.known_agents import known_agents
from receivers.models import EthereumStatistics, SystemStatistics


class HistoryPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class HistoryViewSet(FailedCredentialsThrottled, viewsets.ReadOnlyModelViewSet):
    """Staff only: anonymous callers get 401 (with a Basic challenge), others 403; a client
    or name with too many refused credentials gets 429 before its credentials are checked."""

    authentication_classes = [StrictBasicAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]
    renderer_classes = [JSONRenderer]
    pagination_class = HistoryPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]


class KnownAgentViewSet(HistoryViewSet):
    """Agents the backend has heard from, with last seen time and active state."""

    serializer_class = serializers.KnownAgentSerializer
    filterset_class = filters.KnownAgentFilter
    lookup_field = "agent_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["agent_id", "first_seen", "last_seen"]
    ordering = ["agent_id"]

    def get_queryset(self) -> QuerySet:
        return known_agents()


class StatisticsViewSet(HistoryViewSet):
    """Stored rows, newest first; ``series`` aggregates them per time interval in the database."""

    ordering = ["-date", "agent_id"]
    #: Aggregates of one ``series`` point, beside time, agent_id and samples.
    point_fields: dict = {}
    point_serializer_class: type[serializers.serializers.Serializer]

    def series_queryset(self, interval: str) -> QuerySet:
        rows = DjangoFilterBackend().filter_queryset(self.request, self.get_queryset(), self)
        return (
            rows.order_by()
            .annotate(time=Trunc("date", interval))
            .values("time", "agent_id")
            .annotate(samples=Count("id"), **self.point_fields)
            .order_by("time", "agent_id")
        )

    def series(self, request: Request) -> Response:
        query = serializers.SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        points = self.series_queryset(query.validated_data["interval"])
        page = self.paginate_queryset(points)
        return self.get_paginated_response(self.point_serializer_class(page, many=True).data)


class EthereumStatisticsViewSet(StatisticsViewSet):
    """Ethereum statistics rows (one per ``statistics`` report of ``ethereum_metrics``)."""

    queryset = EthereumStatistics.objects.all()
    serializer_class = serializers.EthereumStatisticsSerializer
    filterset_class = filters.EthereumStatisticsFilter
    ordering_fields = ["date", "agent_id", "peers", "gas_price", "hashrate", "current_block"]
    point_serializer_class = serializers.EthereumPointSerializer
    point_fields = {
        "active_ratio": Avg(Cast("active", IntegerField()), output_field=FloatField()),
        "peers_avg": Avg("peers", output_field=FloatField()),
        "peers_max": Max("peers"),
        "hashrate_avg": Avg("hashrate", output_field=FloatField()),
        "gas_price_avg": Avg("gas_price", output_field=FloatField()),
        "current_block_max": Max("current_block"),
        "highest_block_max": Max("highest_block"),
    }

    @extend_schema(
        parameters=[serializers.SeriesQuerySerializer],
        responses=serializers.EthereumPointSerializer(many=True),
        summary="Downsampled Ethereum statistics: one point per agent and interval",
    )
    @action(detail=False, filter_backends=[DjangoFilterBackend])
    def series(self, request: Request) -> Response:
        return super().series(request)


class SystemStatisticsViewSet(StatisticsViewSet):
    """System statistics rows (one per ``statistics`` report of ``system_metrics``)."""

    queryset = SystemStatistics.objects.all()
    serializer_class = serializers.SystemStatisticsSerializer
    filterset_class = filters.SystemStatisticsFilter
    ordering_fields = ["date", "agent_id", "cpu_load", "memory_usage", "disk_usage"]
    point_serializer_class = serializers.SystemPointSerializer
    point_fields = {
        "cpu_load_avg": Avg("cpu_load"),
        "cpu_load_max": Max("cpu_load"),
        "memory_usage_avg": Avg("memory_usage"),
        "memory_usage_max": Max("memory_usage"),
        "disk_usage_avg": Avg("disk_usage"),
        "disk_usage_max": Max("disk_usage"),
    }

    @extend_schema(
        parameters=[serializers.SeriesQuerySerializer],
        responses=serializers.SystemPointSerializer(many=True),
        summary="Downsampled system statistics: one point per agent and interval",
    )
    @action(detail=False, filter_backends=[DjangoFilterBackend])
    def series(self, request: Request) -> Response:
        return super().series(request)
