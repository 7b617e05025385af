from rest_framework import serializers

from panel.api.serializers import StrictModelSerializer, StrictSerializer
from webhooks import services
from webhooks.models import EVENT_TYPES, Delivery, Subscription


class SubscriptionSerializer(StrictModelSerializer):
    """A webhook. `secret` is write-only: give one (at least 16 characters) or leave it out on
    create to have one generated, returned once in the 201 answer as `secret`."""

    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        help_text="Events to send; empty: every event but install.progress (opt-in only).",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=services.SECRET_MIN_LENGTH,
        max_length=200,
        trim_whitespace=False,
        help_text="HMAC-SHA256 signing key; never returned (but once, generated, on create).",
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "active",
            "secret",
            "failing_since",
            "paused_until",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "failing_since",
            "paused_until",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]

    def validate_url(self, value):
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Give an http:// or https:// URL.")
        return value


class CreatedSubscriptionSerializer(SubscriptionSerializer):
    """The answer to a create: the only one that carries the secret."""

    secret = serializers.CharField(read_only=True)


class DeliverySerializer(StrictModelSerializer):
    webhook = serializers.IntegerField(source="subscription_id", read_only=True)
    event_id = serializers.UUIDField(source="event.id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    body = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook",
            "event_id",
            "event_type",
            *Delivery.LOG_FIELDS,
            "body",
        ]
        read_only_fields = fields

    def get_body(self, delivery) -> dict:
        """The JSON sent (the same on every attempt)."""
        return delivery.event.envelope()


class QueuedDeliverySerializer(StrictSerializer):
    id = serializers.IntegerField(help_text="The delivery")
    status = serializers.CharField()
