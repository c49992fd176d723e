"""The web dashboard: a page at ``/`` on the dashboard listener that shows the feed live.

Browsers cannot send the ``wssecret`` header, so the page reads its own socket
(receivers/dashboard/browser.py) carrying the same frames, and both are for
staff users signed in through the admin login. Staff credentials travel only over
HTTPS: on a plain-HTTP listener the page redirects to the same path on the HTTPS
listener staff are sent to (``poa_backend.core.plugins.https_listener``: the auth
handler's, 4003). The receiver option
``"public_dashboard": true`` opens the page and its feed to anyone, read-only,
where they are.

Beside the frames the page reads two JSON documents from the same listener, with
the same access: ``/dashboard/network`` (the network view: propagation, uptime,
recent blocks, alerts) on open and every few seconds, and
``/dashboard/nodes/<id>/history`` (a node's stored statistics per minute over the
last hours) for the node detail view.
"""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, FloatField, IntegerField
from django.db.models.functions import Cast, TruncMinute
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.request import split_domain_port
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views import View

from poa_backend.core.conf import poa_settings
from poa_backend.core.plugins import Listener, https_listener, listeners

if TYPE_CHECKING:
    from receivers.dashboard.receiver import DashboardReceiver

#: Where the page's socket is served (on the receiver's listener, like its other routes).
BROWSER_FEED_PATH = "/dashboard/feed"
#: The node detail view shows this many hours of stored statistics at most.
HISTORY_HOURS = 24
#: Alert events the page lists.
RECENT_EVENTS = 20


def clean_page_options(options: dict[str, Any]) -> dict[str, Any]:
    """Check the page's option: ``public_dashboard`` (default false)."""
    if not isinstance(options.get("public_dashboard", False), bool):
        raise ValidationError("public_dashboard: must be true or false")
    return options


def may_watch(receiver: "DashboardReceiver", user: Any) -> bool:
    """Who may see the page and its feed: staff users, or anyone when the receiver says public."""
    if receiver.options.get("public_dashboard"):
        return True
    return bool(user is not None and user.is_authenticated and user.is_staff)


def https_target(request: HttpRequest) -> Listener | None:
    """Where a plain-HTTP request to a listener the rows name is sent (a port no row names is a
    proxy's, which terminates TLS itself)."""
    every = listeners()
    port = request.META.get("SERVER_PORT")
    if any(listener.scheme == "http" and str(listener.port) == port for listener in every):
        return https_listener(every)
    return None


def https_url(request: HttpRequest, listener: Listener) -> str:
    """The same path on ``listener``, at the host the browser used."""
    domain, _ = split_domain_port(request.get_host())
    if ":" in domain and not domain.startswith("["):
        domain = f"[{domain}]"
    return f"https://{domain}:{listener.port}{request.get_full_path()}"


class PageView(View):
    receiver: "DashboardReceiver | None" = None
    http_method_names = ["get", "head"]

    @property
    def public(self) -> bool:
        return bool(self.receiver.options.get("public_dashboard"))


class DashboardPage(PageView):
    """The page itself; the data arrives over its socket and from the JSON documents below."""

    def get(self, request: HttpRequest) -> HttpResponse:
        target = None if self.public or request.is_secure() else https_target(request)
        if target is not None:
            return HttpResponseRedirect(https_url(request, target))
        if not may_watch(self.receiver, request.user):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        config = {
            "feedPath": BROWSER_FEED_PATH,
            "networkPath": reverse(f"{self.receiver.name}-page-network"),
            "historyPath": reverse(f"{self.receiver.name}-page-history", args=["NODE"]),
            "inactivityTimeout": poa_settings.INACTIVITY_TIMEOUT,
        }
        return render(request, "receivers/dashboard.html", {"config": config, "public": self.public})


class DataView(PageView):
    """A JSON document of the page: same access as the page; 403 for others (no redirect)."""

    def get(self, request: HttpRequest, **kwargs: str) -> HttpResponse:
        if not may_watch(self.receiver, request.user):
            return JsonResponse({"detail": "staff only"}, status=403)
        return JsonResponse(self.document(**kwargs))

    def document(self, **kwargs: str) -> dict[str, Any]:
        raise NotImplementedError


class NetworkDocument(DataView):
    """The network view and the alerts, for the page's columns, histogram and banner."""

    def document(self) -> dict[str, Any]:
        from receivers.alerts.models import AlertEvent, AlertState
        from receivers.api import alert_serializers, network_serializers
        from receivers.network.receiver import running

        receiver = running()
        network = receiver.view() if receiver is not None else None
        active = AlertState.objects.exclude(state=AlertState.State.INACTIVE).select_related("rule")
        events = AlertEvent.objects.select_related("rule").prefetch_related("deliveries__destination")
        return {
            "network": network_serializers.NetworkSerializer(network).data if network else None,
            "nodes": network_serializers.NodeSerializer(network.nodes, many=True).data if network else [],
            "blocks": network_serializers.BlockSerializer(network.blocks, many=True).data if network else [],
            "alerts": alert_serializers.AlertStateSerializer(active, many=True).data,
            "events": alert_serializers.AlertEventSerializer(events[:RECENT_EVENTS], many=True).data,
        }


class NodeHistoryDocument(DataView):
    """One node's stored statistics, one point per minute, over the last ``hours`` (at most 24)."""

    def get(self, request: HttpRequest, **kwargs: str) -> HttpResponse:
        try:
            self.hours = min(HISTORY_HOURS, max(1, int(request.GET.get("hours", 6))))
        except ValueError:
            return JsonResponse({"detail": "hours: a whole number from 1 to 24"}, status=400)
        return super().get(request, **kwargs)

    def document(self, node_id: str) -> dict[str, Any]:
        from receivers.models import EthereumStatistics, SystemStatistics

        since = timezone.now() - timedelta(hours=self.hours)

        def per_minute(model: type, **aggregates: Any) -> list[dict[str, Any]]:
            rows = (
                model.objects.filter(agent_id=node_id, date__gte=since)
                .annotate(time=TruncMinute("date"))
                .values("time")
                .annotate(samples=Count("id"), **aggregates)
                .order_by("time")
            )
            return [{**row, "time": row["time"].isoformat()} for row in rows]

        return {
            "node": node_id,
            "hours": self.hours,
            "ethereum": per_minute(
                EthereumStatistics,
                peers=Avg("peers", output_field=FloatField()),
                active=Avg(Cast("active", IntegerField()), output_field=FloatField()),
            ),
            "system": per_minute(
                SystemStatistics, cpu=Avg("cpu_load"), memory=Avg("memory_usage"), disk=Avg("disk_usage")
            ),
        }


def page_urls(receiver: "DashboardReceiver") -> list[URLPattern]:
    name = receiver.name
    return [
        path("", DashboardPage.as_view(receiver=receiver), name=f"{name}-page"),
        path("dashboard/network", NetworkDocument.as_view(receiver=receiver), name=f"{name}-page-network"),
        path(
            "dashboard/nodes/<str:node_id>/history",
            NodeHistoryDocument.as_view(receiver=receiver),
            name=f"{name}-page-history",
        ),
    ]
