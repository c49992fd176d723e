"""Request bodies of the auth endpoints and their checks (a failure is a 422 with the reason).

Fields are strict: a number is not a name and ``"true"`` is not a boolean.
"""

from typing import Any

from rest_framework import serializers

from handlers.auth.accounts import MAX_NAME_LENGTH, MIN_PASSWORD_LENGTH
from handlers.models import AgentUser
from poa_backend.core import intake


class StrictCharField(serializers.CharField):
    """A CharField that refuses non-strings instead of converting them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AgentIdField(StrictCharField):
    """An optional agent id: blank, or what the intake check accepts as one (docs/protocol.md)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value:
            try:
                intake.check_agent_id(value)
            except intake.Refusal as refusal:
                raise serializers.ValidationError(str(refusal)) from refusal
        return value


class StrictBooleanField(serializers.BooleanField):
    """Only JSON/MessagePack ``true`` or ``false``."""

    default_error_messages = {"invalid": "Must be a boolean (true or false)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ObjectSerializer(serializers.Serializer):
    """A body must be an object; extra fields are ignored."""

    default_error_messages = {"invalid": "The body must be an object."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"body": ["must be an object"]})
        # null means "not given", as if the field were absent
        return super().to_internal_value({key: value for key, value in data.items() if value is not None})


class SessionSerializer(ObjectSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {"agent-id": AgentIdField()}


class CreateUserSerializer(ObjectSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here because the wire names have dashes.
        return {
            "user-name": StrictCharField(required=False, max_length=MAX_NAME_LENGTH, trim_whitespace=False),
            "password": StrictCharField(
                required=False, min_length=MIN_PASSWORD_LENGTH, trim_whitespace=False
            ),
            "agent-id": AgentIdField(),
        }


class SetActiveSerializer(ObjectSerializer):
    active = StrictBooleanField()


class TokenSerializer(ObjectSerializer):
    token = serializers.JSONField(required=False)


class UserReferenceSerializer(ObjectSerializer):
    user = serializers.JSONField(required=False)


class AgentUserListSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="name")
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = AgentUser
        fields = ["user", "active", "created_at"]
