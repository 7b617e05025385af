from collections.abc import Mapping

from rest_framework import serializers

from panel.models import ApiToken, AuditEvent, SshKey, User


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
    two_factor_enabled = serializers.BooleanField(
        read_only=True, help_text="Whether they log in with a code from an authenticator app."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "phone",
            "role",
            "is_active",
            "two_factor_required",
            "two_factor_enabled",
            "password",
            "server_count",
            "date_joined",
            "last_login",
            "updated_at",
        ]
        read_only_fields = ["date_joined", "last_login", "updated_at"]
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


class ApiTokenSerializer(StrictModelSerializer):
    """A token as it is shown after its creation: never its key, only its prefix."""

    allowed_cidrs = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Source networks allowed to use it; empty: any",
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "allowed_cidrs",
            "expires_at",
            "last_used_at",
            "last_used_ip",
            "created_at",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="For example the billing system's name")
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.WRITE)
    allowed_cidrs = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=50,
        help_text="Addresses or networks the token may be used from; empty: from anywhere",
    )
    expires_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=3650,
        help_text="Days until it expires; empty: never",
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    """The answer to a token's creation, the only one with its key."""

    key = serializers.CharField(
        read_only=True,
        help_text='Send as "Authorization: Token <key>". Shown this once; only its hash is kept.',
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


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
