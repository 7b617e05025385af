from rest_framework import serializers

from inventory.api.serializers import ServerSerializer
from panel.api.serializers import UserRefSerializer
from provisioning.bmc import BOOT_DEVICES, POWER_ACTIONS
from provisioning.models import Operation, OperationEvent


class OperationBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operation
        fields = ["id", "kind", "state", "step", "progress"]


class ServerWithOperationSerializer(ServerSerializer):
    active_operation = serializers.SerializerMethodField()

    class Meta(ServerSerializer.Meta):
        fields = [*ServerSerializer.Meta.fields, "active_operation"]

    def get_active_operation(self, server) -> OperationBriefSerializer(allow_null=True):
        active = getattr(server, "active_operations", None)
        if active is None:
            active = list(server.operations.active())
        return OperationBriefSerializer(active[0]).data if active else None


class OperationEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperationEvent
        fields = ["created_at", "level", "step", "message"]


class OperationSerializer(serializers.ModelSerializer):
    server_name = serializers.CharField(source="server.name", read_only=True)
    requested_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "server",
            "server_name",
            "kind",
            "state",
            "step",
            "progress",
            "params",
            "result",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "deadline",
            "attempts",
        ]


class OperationDetailSerializer(OperationSerializer):
    events = OperationEventSerializer(many=True, read_only=True)

    class Meta(OperationSerializer.Meta):
        fields = [*OperationSerializer.Meta.fields, "events"]


class TaskAcceptedSerializer(serializers.Serializer):
    """Answer to a request that runs in the background (as DCImanager answers)."""

    id = serializers.IntegerField(help_text="The server's id")
    task = serializers.IntegerField(help_text="The operation's id: GET /api/v1/operations/{task}/")


class PowerRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=POWER_ACTIONS)
    timeout = serializers.IntegerField(
        required=False,
        min_value=10,
        max_value=3600,
        help_text="soft_off only: seconds to wait for the OS before failing (never forces)",
    )


class PowerStateSerializer(serializers.Serializer):
    power_state = serializers.ChoiceField(choices=["on", "off", "unknown"])
    read_at = serializers.DateTimeField(allow_null=True)
    reachable = serializers.BooleanField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class BootDeviceRequestSerializer(serializers.Serializer):
    device = serializers.ChoiceField(choices=BOOT_DEVICES)
    persistent = serializers.BooleanField(default=False)
