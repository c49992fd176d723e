"""Routes of the history API, mounted at /api/ by the site's URLconf."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from receivers.api import alert_views, network_views, views

router = SimpleRouter()
router.register("agents", views.KnownAgentViewSet, basename="agent")
router.register("ethereum-statistics", views.EthereumStatisticsViewSet, basename="ethereum-statistics")
router.register("system-statistics", views.SystemStatisticsViewSet, basename="system-statistics")
router.register("alerts", alert_views.AlertEventViewSet, basename="alert")

urlpatterns = router.urls
urlpatterns += [
    path("network/", network_views.NetworkSummaryView.as_view(), name="network"),
    path("nodes/", network_views.NodeListView.as_view(), name="node-list"),
    path("nodes/<str:node_id>/", network_views.NodeDetailView.as_view(), name="node-detail"),
    path("blocks/", network_views.BlockListView.as_view(), name="block-list"),
]
