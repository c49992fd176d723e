"""Staff API of the network view: /api/network/, /api/nodes/, /api/nodes/<id>/, /api/blocks/.

They read the running network receiver's store (shared through Redis with
several processes, so every process answers the same); with no network receiver
running they answer 503.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException, NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from poa_backend.core.credentials import FailedCredentialsThrottled
from receivers.api import network_serializers as serializers
from receivers.api.views import HistoryViewSet
from receivers.network.receiver import NetworkReceiver, running
from receivers.network.view import Network


class NetworkViewUnavailable(APIException):
    status_code = 503
    default_detail = "The network receiver is not running (enable its row in the admin)."
    default_code = "network_view_unavailable"


class NetworkView(FailedCredentialsThrottled, APIView):
    """Same access as the history API: staff only, refused credentials throttled."""

    authentication_classes = HistoryViewSet.authentication_classes
    permission_classes = HistoryViewSet.permission_classes
    renderer_classes = [JSONRenderer]

    def receiver(self) -> NetworkReceiver:
        receiver = running()
        if receiver is None:
            raise NetworkViewUnavailable()
        return receiver

    def network(self) -> Network:
        return self.receiver().view()


class NetworkSummaryView(NetworkView):
    @extend_schema(
        responses=serializers.NetworkSerializer, summary="The network: best block, block time, propagation"
    )
    def get(self, request: Request) -> Response:
        return Response(serializers.NetworkSerializer(self.network()).data)


class NodeListView(NetworkView):
    @extend_schema(responses=serializers.NodeSerializer(many=True), summary="Every node's current state")
    def get(self, request: Request) -> Response:
        return Response(serializers.NodeSerializer(self.network().nodes, many=True).data)


class NodeDetailView(NetworkView):
    @extend_schema(
        responses=serializers.NodeDetailSerializer,
        summary="One node's state and its delay on each recent block",
    )
    def get(self, request: Request, node_id: str) -> Response:
        network = self.network()
        node = network.node(node_id)
        if node is None:
            raise NotFound("No such node in the network view.")
        return Response(serializers.NodeDetailSerializer(node, context={"blocks": network.blocks}).data)


class BlockListView(NetworkView):
    @extend_schema(
        responses=serializers.BlockSerializer(many=True),
        summary="Recent blocks, newest first, with arrival delays",
    )
    def get(self, request: Request) -> Response:
        return Response(serializers.BlockSerializer(self.network().blocks, many=True).data)
