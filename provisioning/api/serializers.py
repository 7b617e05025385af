from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from inventory.api.serializers import ServerSerializer
from panel.api.serializers import StrictModelSerializer, StrictSerializer, UserRefSerializer
from panel.sshkeys import parse_public_key
from provisioning import imaging
from provisioning.bmc import BOOT_DEVICES, POWER_ACTIONS
from provisioning.installers import RAID_NAMES, WIPE_MODES
from provisioning.models import DiskImage, Operation, OperationEvent, OsTemplate
from provisioning.selectors import rescue_state


class OperationBriefSerializer(StrictModelSerializer):
    class Meta:
        model = Operation
        fields = ["id", "kind", "state", "step", "progress"]


class RescueKeySerializer(StrictSerializer):
    name = serializers.CharField()
    fingerprint = serializers.CharField()


class RescueStateSerializer(StrictSerializer):
    """A server in the rescue system, and how to log in to it."""

    operation = serializers.IntegerField(source="operation_id", help_text="The one that booted it")
    since = serializers.DateTimeField(source="started_at")
    expires_at = serializers.DateTimeField(
        help_text="Then it leaves the rescue system and boots its disk"
    )
    user = serializers.CharField(default="root")
    address = serializers.CharField(allow_null=True, help_text="Its main IP address, for SSH")
    ssh_keys = RescueKeySerializer(many=True, help_text="The keys root logs in with")
    password = serializers.BooleanField(help_text="A one-time root password was set (shown once)")
    login = serializers.CharField(help_text="How to log in, in a sentence")


class ServerWithOperationSerializer(ServerSerializer):
    active_operation = serializers.SerializerMethodField()
    rescue = serializers.SerializerMethodField(
        help_text="Set while the server is in the rescue system (POST .../rescue/exit/ leaves it)"
    )

    class Meta(ServerSerializer.Meta):
        fields = [*ServerSerializer.Meta.fields, "active_operation", "rescue"]

    def get_active_operation(self, server) -> OperationBriefSerializer(allow_null=True):
        active = getattr(server, "active_operations", None)
        if active is None:
            active = list(server.operations.active())
        return OperationBriefSerializer(active[0]).data if active else None

    def get_rescue(self, server) -> RescueStateSerializer(allow_null=True):
        state = rescue_state(server)
        return RescueStateSerializer(state).data if state else None


class OperationEventSerializer(StrictModelSerializer):
    class Meta:
        model = OperationEvent
        fields = ["created_at", "level", "step", "message"]


class OperationSerializer(StrictModelSerializer):
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
            "cancel_requested_at",
            "result",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "deadline",
            "attempts",
        ]

    def to_representation(self, operation):
        data = super().to_representation(operation)
        data["params"] = {
            name: value
            for name, value in (data["params"] or {}).items()
            if name not in Operation.SECRET_PARAMS
        }
        return data


class OperationDetailSerializer(OperationSerializer):
    events = OperationEventSerializer(many=True, read_only=True)

    class Meta(OperationSerializer.Meta):
        fields = [*OperationSerializer.Meta.fields, "events"]


class ConsoleRequestSerializer(StrictSerializer):
    """No fields: a console is asked for with an empty body (anything else is refused)."""


class ConsoleLinkSerializer(StrictSerializer):
    token = serializers.CharField(help_text="Single use; opens the console once, within 60 s")
    url = serializers.URLField(
        help_text="The console page with the token: works without signing in to the panel, "
        "so a billing system can hand it to its customer"
    )
    expires_at = serializers.DateTimeField(help_text="Connect before this")


class TaskAcceptedSerializer(StrictSerializer):
    """Answer to a request that runs in the background (as DCImanager answers)."""

    id = serializers.IntegerField(help_text="The server's id")
    task = serializers.IntegerField(help_text="The operation's id: GET /api/v1/operations/{task}/")


class PowerRequestSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=POWER_ACTIONS)
    force = serializers.BooleanField(
        default=False, help_text="Staff: even on a server in the rescue system (ends the rescue)"
    )
    timeout = serializers.IntegerField(
        required=False,
        min_value=10,
        max_value=3600,
        help_text="soft_off only: seconds to wait for the OS before failing (never forces)",
    )


class PowerQuerySerializer(StrictSerializer):
    refresh = serializers.BooleanField(default=False, help_text="Read the BMC now")


class PowerStateSerializer(StrictSerializer):
    power_state = serializers.ChoiceField(choices=["on", "off", "unknown"])
    read_at = serializers.DateTimeField(allow_null=True)
    reachable = serializers.BooleanField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class SuspendRequestSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shown to the customer, e.g. 'Invoice 1234 unpaid'",
    )


class ResumeRequestSerializer(StrictSerializer):
    """No fields: the answer names the operation that opens the ports again."""


class OutletPowerRequestSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=["on", "off", "cycle"],
        help_text="Switch every PDU outlet feeding the server (cycle: off, wait, on)",
    )


class BootDeviceRequestSerializer(StrictSerializer):
    device = serializers.ChoiceField(choices=BOOT_DEVICES)
    persistent = serializers.BooleanField(default=False)
    force = serializers.BooleanField(
        default=False, help_text="Staff: even on a server in the rescue system (ends the rescue)"
    )


class OsTemplateSerializer(StrictModelSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=20
    )

    class Meta:
        model = OsTemplate
        fields = [
            "id",
            "name",
            "family",
            "description",
            "tags",
            "mirror_url",
            "kernel_url",
            "initrd_url",
            "boot_args",
            "config",
            "is_public",
            "is_utility",
            "updated_at",
        ]

    def validate(self, attrs):
        template = OsTemplate(**{**self._current(), **attrs})
        try:
            template.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {name: getattr(self.instance, name) for name in self.Meta.fields[1:-1]}


class PublicOsTemplateSerializer(OsTemplateSerializer):
    """What a customer sees of an OS: enough to choose it, not how it is built."""

    class Meta(OsTemplateSerializer.Meta):
        fields = ["id", "name", "family", "description", "tags"]


class PublicKeyTextField(serializers.CharField):
    """One OpenSSH public key line, checked here so each bad entry of a list is named."""

    def __init__(self, **kwargs):
        super().__init__(max_length=8192, **kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            parse_public_key(text)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return text


class InstallRequestSerializer(StrictSerializer):
    os_template = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    raid = serializers.ChoiceField(choices=RAID_NAMES, default="no_raid")
    password = serializers.CharField(
        required=False, allow_blank=True, write_only=True, trim_whitespace=False, max_length=128
    )
    ssh_keys = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        required=False,
        default=list,
        max_length=50,
        help_text="Ids of saved SSH keys: your own, or (staff) those of the server's owner",
    )
    ssh_key_texts = serializers.ListField(
        child=PublicKeyTextField(),
        required=False,
        default=list,
        max_length=50,
        help_text='OpenSSH public key lines ("ssh-ed25519 AAAA... comment") to install this '
        "time, without saving them",
    )
    reboot = serializers.ChoiceField(choices=["auto", "manual"], default="auto")
    force = serializers.BooleanField(
        default=False, help_text="Staff: even on a server in the rescue system (ends the rescue)"
    )


class DiagnosticsRequestSerializer(StrictSerializer):
    wipe = serializers.ChoiceField(choices=WIPE_MODES, default="none")
    force = serializers.BooleanField(
        default=False, help_text="Staff: even on a server in the rescue system (ends the rescue)"
    )


class WipeRequestSerializer(StrictSerializer):
    mode = serializers.ChoiceField(choices=["simple", "full"])
    force = serializers.BooleanField(
        default=False, help_text="Staff: even on a server in the rescue system (ends the rescue)"
    )


class RescueRequestSerializer(StrictSerializer):
    ssh_keys = serializers.ListField(
        child=PublicKeyTextField(),
        required=False,
        default=list,
        max_length=50,
        help_text='OpenSSH public key lines ("ssh-ed25519 AAAA... comment") root logs in with',
    )
    password = serializers.BooleanField(
        default=False,
        help_text="Generate a one-time root password: in this answer only, never again",
    )


class RescueAcceptedSerializer(TaskAcceptedSerializer):
    password = serializers.CharField(
        allow_null=True, help_text="The one-time root password (null unless asked for)"
    )


class RescueExitRequestSerializer(StrictSerializer):
    """No fields: the answer names the operation that boots the server's disk again."""


class CaptureRequestSerializer(StrictSerializer):
    name = serializers.RegexField(
        r"^[\w][\w .:+-]*$",
        max_length=100,
        help_text="The image's name, unique among its owner's images",
    )
    disks = serializers.ListField(
        child=serializers.RegexField(imaging.DISK_NAME, max_length=32),
        required=False,
        default=list,
        max_length=32,
        help_text="Disks as diagnostics reported them (e.g. sda, nvme0n1); all of them if none",
    )


class CaptureAcceptedSerializer(TaskAcceptedSerializer):
    image = serializers.IntegerField(help_text="The image's id: GET /api/v1/images/{image}/")


class RestoreRequestSerializer(StrictSerializer):
    image = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="A ready image")


class DiskImageDiskSerializer(StrictSerializer):
    name = serializers.CharField()
    bytes = serializers.IntegerField(help_text="Raw size")
    sha256 = serializers.CharField(help_text="Of the raw disk, once the image is ready")


class DiskImageSerializer(StrictModelSerializer):
    owner = UserRefSerializer(read_only=True)
    disks = DiskImageDiskSerializer(many=True, read_only=True)
    raw_bytes = serializers.IntegerField(read_only=True)

    class Meta:
        model = DiskImage
        fields = [
            "id",
            "name",
            "state",
            "owner",
            "source_server",
            "source_configuration",
            "source_os",
            "disks",
            "raw_bytes",
            "stored_bytes",
            "created_at",
            "ready_at",
        ]
        read_only_fields = fields
