"""How the network view looks in the API (/api/network/, /api/nodes/, /api/blocks/)."""

from datetime import UTC, datetime

from rest_framework import serializers

from receivers.network.view import Block, Node


class EpochDateTimeField(serializers.DateTimeField):
    """A time the view holds as seconds since the epoch, shown as ISO 8601 (UTC)."""

    def to_representation(self, value: float | None) -> str | None:
        if value is None:
            return None
        return super().to_representation(datetime.fromtimestamp(value, tz=UTC))


class PropagationSerializer(serializers.Serializer):
    last_ms = serializers.FloatField(
        allow_null=True, help_text="Delay of the node's latest block after its first report."
    )
    average_ms = serializers.FloatField(
        allow_null=True, help_text="Average delay over the last 40 blocks it reported."
    )
    blocks = serializers.IntegerField(help_text="Blocks the average is taken over.")


class NodeSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The agent id.")
    name = serializers.CharField(help_text="The name from its latest information report, else its id.")
    active = serializers.BooleanField(help_text="Reporting and not gone inactive.")
    head = serializers.IntegerField(allow_null=True, help_text="Number of its latest block.")
    head_hash = serializers.CharField(allow_null=True)
    head_timestamp = serializers.IntegerField(
        allow_null=True, help_text="The block's own timestamp (Unix seconds)."
    )
    head_at = EpochDateTimeField(allow_null=True, help_text="When it reported that block.")
    blocks_behind = serializers.IntegerField(allow_null=True, help_text="Blocks behind the best block.")
    last_block_age = serializers.FloatField(
        allow_null=True, help_text="Seconds since it reported its latest block."
    )
    latency_ms = serializers.FloatField(allow_null=True)
    peers = serializers.IntegerField(allow_null=True)
    pending = serializers.IntegerField(allow_null=True)
    syncing = serializers.BooleanField(allow_null=True)
    uptime = serializers.FloatField(allow_null=True, help_text="Percent of the last 24 h it was up.")
    first_seen = EpochDateTimeField(allow_null=True)
    last_seen = EpochDateTimeField(allow_null=True)
    inactive_since = EpochDateTimeField(allow_null=True)
    propagation = PropagationSerializer()


class BlockSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    hash = serializers.CharField()
    timestamp = serializers.IntegerField(
        allow_null=True, help_text="The block's own timestamp (Unix seconds)."
    )
    first_seen = EpochDateTimeField(help_text="When the first node reported it.")
    arrivals = serializers.SerializerMethodField(
        help_text="Each node's delay after the first report, fastest first."
    )

    def get_arrivals(self, block: Block) -> list[dict]:
        return [
            {"node": node, "delay_ms": round(delay, 3)}
            for node, delay in sorted(block.delays_ms.items(), key=lambda item: (item[1], item[0]))
        ]


class HistogramBinSerializer(serializers.Serializer):
    from_ms = serializers.FloatField()
    to_ms = serializers.FloatField(allow_null=True, help_text="Null for the last, open bin.")
    count = serializers.IntegerField()


class NetworkSerializer(serializers.Serializer):
    network = serializers.CharField()
    best_block = BlockSerializer(
        source="best", allow_null=True, help_text="The best block and when it was first seen."
    )
    block_time = serializers.FloatField(allow_null=True, help_text="Seconds between the last two blocks.")
    average_block_time = serializers.FloatField(allow_null=True, help_text="Average over the last 40 blocks.")
    nodes = serializers.IntegerField(source="node_count")
    active_nodes = serializers.IntegerField()
    propagation_histogram = HistogramBinSerializer(
        many=True, help_text="Node delays over the last 40 blocks."
    )


class NodeDetailSerializer(NodeSerializer):
    blocks = serializers.SerializerMethodField(
        help_text="Its delay on each recent block it reported, newest first."
    )

    def get_blocks(self, node: Node) -> list[dict]:
        return [
            {"number": block.number, "hash": block.hash, "delay_ms": round(block.delays_ms[node.id], 3)}
            for block in self.context["blocks"]
            if node.id in block.delays_ms
        ]
