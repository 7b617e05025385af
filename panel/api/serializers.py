from collections.abc import Mapping

from rest_framework import serializers

from panel.models import AuditEvent, SshKey, User


class RefusesUnknownFields:
    """A body field the serializer does not write is an error naming it: a caller's typo is a
    400, never a silently different job. Nested serializers check their own fields."""

    def to_internal_value(self, data):
        writable = {field.field_name for field in self._writable_fields}
        refused = {}
        if isinstance(data, Mapping):
            refused = {
                name: ["This field is read-only." if name in self.fields else "Unknown field."]
                for name in data
                if name not in writable
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **refused}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class StrictSerializer(RefusesUnknownFields, serializers.Serializer):
    """Base of every plain serializer of the API."""


class StrictModelSerializer(RefusesUnknownFields, serializers.ModelSerializer):
    """Base of every model serializer of the API."""


class UserSerializer(StrictModelSerializer):
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=False,
        style={"input_type": "password"},
        help_text="Set or change the password; never returned.",
    )
    server_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "phone",
            "role",
            "is_active",
            "password",
            "server_count",
            "date_joined",
            "last_login",
        ]
        read_only_fields = ["date_joined", "last_login"]
        extra_kwargs = {"email": {"validators": []}}


class UserRefSerializer(StrictModelSerializer):
    """A user as other objects mention them."""

    class Meta:
        model = User
        fields = ["id", "email"]


class SshKeySerializer(StrictModelSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = SshKey
        fields = ["id", "name", "public_key", "key_type", "fingerprint", "created_at"]
        read_only_fields = ["key_type", "fingerprint", "created_at"]


class AuditEventSerializer(StrictModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_email",
            "source_ip",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "detail",
        ]
