from rest_framework import serializers

from panel.models import AuditEvent, SshKey, User


class UserSerializer(serializers.ModelSerializer):
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


class UserRefSerializer(serializers.ModelSerializer):
    """A user as other objects mention them."""

    class Meta:
        model = User
        fields = ["id", "email"]


class SshKeySerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = SshKey
        fields = ["id", "name", "public_key", "key_type", "fingerprint", "created_at"]
        read_only_fields = ["key_type", "fingerprint", "created_at"]


class AuditEventSerializer(serializers.ModelSerializer):
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
