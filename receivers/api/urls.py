"""Routes of the history API, mounted at /api/ by the site's URLconf."""

from rest_framework.routers import SimpleRouter

from receivers.api import views

router = SimpleRouter()
router.register("agents", views.KnownAgentViewSet, basename="agent")
router.register("ethereum-statistics", views.EthereumStatisticsViewSet, basename="ethereum-statistics")
router.register("system-statistics", views.SystemStatisticsViewSet, basename="system-statistics")

urlpatterns = router.urls
