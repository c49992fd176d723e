"""How stored statistics and known agents look in the history API."""

from rest_framework import serializers

from receivers.models import EthereumStatistics, KnownAgent, SystemStatistics

INTERVALS = ("second", "minute", "hour", "day")


class KnownAgentSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(
        source="is_active", help_text="Heard from lately and not gone inactive."
    )
    statistics_at = serializers.DateTimeField(
        allow_null=True, help_text="Date of the latest Ethereum statistics row, if any."
    )
    reported_active = serializers.BooleanField(
        allow_null=True, help_text="What the latest Ethereum statistics row said, if any."
    )

    class Meta:
        model = KnownAgent
        fields = [
            "agent_id",
            "active",
            "first_seen",
            "last_seen",
            "inactive_since",
            "statistics_at",
            "reported_active",
        ]


class EthereumStatisticsSerializer(serializers.ModelSerializer):
    class Meta:
        model = EthereumStatistics
        fields = [
            "date",
            "agent_id",
            "active",
            "mining",
            "hashrate",
            "peers",
            "gas_price",
            "current_block",
            "highest_block",
            "starting_block",
        ]


class SystemStatisticsSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemStatistics
        fields = ["date", "agent_id", "cpu_load", "disk_usage", "memory_usage"]


class SeriesQuerySerializer(serializers.Serializer):
    interval = serializers.ChoiceField(
        choices=INTERVALS, default="minute", help_text="Width of one point: rows are aggregated per interval."
    )


class EthereumPointSerializer(serializers.Serializer):
    """One interval of one agent's Ethereum statistics."""

    time = serializers.DateTimeField(help_text="Start of the interval.")
    agent_id = serializers.CharField()
    samples = serializers.IntegerField(help_text="Rows aggregated into this point.")
    active_ratio = serializers.FloatField(help_text="Share of rows that said active (0 to 1).")
    peers_avg = serializers.FloatField()
    peers_max = serializers.IntegerField()
    hashrate_avg = serializers.FloatField()
    gas_price_avg = serializers.FloatField()
    current_block_max = serializers.IntegerField(allow_null=True)
    highest_block_max = serializers.IntegerField(allow_null=True)


class SystemPointSerializer(serializers.Serializer):
    """One interval of one agent's system statistics."""

    time = serializers.DateTimeField(help_text="Start of the interval.")
    agent_id = serializers.CharField()
    samples = serializers.IntegerField(help_text="Rows aggregated into this point.")
    cpu_load_avg = serializers.FloatField()
    cpu_load_max = serializers.FloatField()
    memory_usage_avg = serializers.FloatField()
    memory_usage_max = serializers.FloatField()
    disk_usage_avg = serializers.FloatField()
    disk_usage_max = serializers.FloatField()
