"""How alert events, their deliveries and the alerts firing now look in /api/alerts/."""

from rest_framework import serializers

from receivers.alerts.models import AlertEvent, AlertState, Delivery


class DeliverySerializer(serializers.ModelSerializer):
    destination = serializers.CharField(source="destination.name")
    destination_kind = serializers.CharField(source="destination.kind")

    class Meta:
        model = Delivery
        fields = ["destination", "destination_kind", "status", "attempts", "delivered_at", "last_error"]


class AlertEventSerializer(serializers.ModelSerializer):
    alert = serializers.CharField(source="rule.name")
    rule_kind = serializers.CharField(source="rule.kind")
    severity = serializers.CharField(source="rule.severity")
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = AlertEvent
        fields = [
            "id",
            "alert",
            "rule_kind",
            "severity",
            "node",
            "network",
            "kind",
            "at",
            "started_at",
            "value",
            "summary",
            "silenced",
            "deliveries",
        ]


class AlertStateSerializer(serializers.ModelSerializer):
    alert = serializers.CharField(source="rule.name")
    rule_kind = serializers.CharField(source="rule.kind")
    severity = serializers.CharField(source="rule.severity")

    class Meta:
        model = AlertState
        fields = ["alert", "rule_kind", "severity", "node", "state", "since", "fired_at", "value", "summary"]
