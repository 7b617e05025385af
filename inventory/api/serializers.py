from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.addresses import validate_device_address
from inventory.models import (
    IP_FAMILIES,
    Bmc,
    HardwareProfile,
    IpAddress,
    IpPool,
    Location,
    Network,
    Pdu,
    PduOutlet,
    Rack,
    Server,
    SnmpDevice,
    Switch,
    SwitchPort,
)
from panel.api.serializers import StrictModelSerializer, StrictSerializer, UserRefSerializer
from panel.models import User


def _device_address(value: str) -> str:
    try:
        return validate_device_address(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class ConfigurationSerializer(StrictModelSerializer):
    free_server_count = serializers.IntegerField(read_only=True)
    total_server_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = HardwareProfile
        fields = [
            "id",
            "name",
            "cpu",
            "cpu_cores",
            "ram_gb",
            "disk_count",
            "disk_size_gb",
            "disk_kind",
            "description",
            "free_server_count",
            "total_server_count",
        ]


class BmcSerializer(StrictModelSerializer):
    password = serializers.CharField(
        write_only=True,
        max_length=128,
        style={"input_type": "password"},
        help_text="Stored encrypted; never returned.",
    )

    class Meta:
        model = Bmc
        fields = [
            "address",
            "port",
            "username",
            "password",
            "interface",
            "power_state",
            "power_state_read_at",
            "reachable",
            "last_seen",
        ]
        read_only_fields = [
            "interface",
            "power_state",
            "power_state_read_at",
            "reachable",
            "last_seen",
        ]
        validators = []  # a clashing endpoint is refused by the service, naming the server

    def validate_address(self, value):
        return _device_address(value)


class ServerIpSerializer(StrictModelSerializer):
    class Meta:
        model = IpAddress
        fields = ["id", "address", "family", "is_main"]


class SwitchConnectionSerializer(StrictModelSerializer):
    """A switch port a server is connected to, as its owner may see it (no device address)."""

    switch_name = serializers.CharField(source="switch.name", read_only=True)

    class Meta:
        model = SwitchPort
        fields = [
            "id",
            "switch",
            "switch_name",
            "name",
            "if_index",
            "description",
            "admin_status",
            "oper_status",
            "is_ipmi_connection",
        ]
        read_only_fields = fields


class PduConnectionSerializer(StrictModelSerializer):
    """A PDU outlet feeding one of a server's power supplies."""

    port_id = serializers.IntegerField(source="id", read_only=True)
    port_identity = serializers.SerializerMethodField(help_text="The outlet's name, or number")
    pdu_id = serializers.IntegerField(read_only=True)
    pdu_name = serializers.CharField(source="pdu.name", read_only=True)
    power_status = serializers.ChoiceField(
        source="power_state", choices=PduOutlet.PowerState.choices, read_only=True
    )

    class Meta:
        model = PduOutlet
        fields = ["port_id", "port_identity", "pdu_id", "pdu_name", "number", "power_status"]
        read_only_fields = fields

    def get_port_identity(self, outlet) -> str:
        return outlet.name or str(outlet.number)


class ServerSerializer(StrictModelSerializer):
    configuration = serializers.SlugRelatedField(
        source="profile",
        slug_field="name",
        queryset=HardwareProfile.objects.all(),
        help_text="Hardware profile name, e.g. i9-9900K-64Gb-2x1024NVMe.",
    )
    location = serializers.SerializerMethodField()
    rack = serializers.PrimaryKeyRelatedField(
        queryset=Rack.objects.select_related("location"), allow_null=True, required=False
    )
    mac = serializers.CharField(max_length=32, allow_null=True, allow_blank=True, required=False)
    owner = UserRefSerializer(read_only=True, allow_null=True)
    os_template = serializers.CharField(source="current_os", read_only=True)
    ips = ServerIpSerializer(source="ip_list", many=True, read_only=True)
    bmc = BmcSerializer()
    hardware_info = serializers.SerializerMethodField(
        help_text="What the last diagnostics reported (the utility image sends cpu, cpus, "
        "ram_mb, disks and nics), or null before any ran."
    )
    hardware_mismatch = serializers.SerializerMethodField(
        help_text="Where hardware_info differs from the configuration (CPU threads, memory, "
        "disk count and sizes); empty when it matches or before diagnostics ran."
    )
    switch_connection = SwitchConnectionSerializer(
        source="port_list",
        many=True,
        read_only=True,
        help_text="The switch ports the server is connected to (its BMC's marked).",
    )
    pdu_connection = PduConnectionSerializer(
        source="outlet_list",
        many=True,
        read_only=True,
        help_text="The PDU outlets feeding its power supplies.",
    )

    class Meta:
        model = Server
        fields = [
            "id",
            "name",
            "configuration",
            "location",
            "rack",
            "unit",
            "mac",
            "serial",
            "state",
            "suspended",
            "suspend_reason",
            "suspended_at",
            "owner",
            "os_template",
            "hardware_info",
            "hardware_mismatch",
            "ips",
            "bmc",
            "switch_connection",
            "pdu_connection",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "suspended",
            "suspend_reason",
            "suspended_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"name": {"validators": []}}
        validators = []  # placement and uniqueness are checked, with clear messages, by the service

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_location(self, server) -> str | None:
        return server.rack.location.name if server.rack_id else None

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_hardware_info(self, server) -> dict | None:
        return server.facts or None

    def get_hardware_mismatch(self, server) -> list[str]:
        return server.hardware_mismatches()


class LocationSerializer(StrictModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "name", "address"]


class OwnerSerializer(StrictSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), help_text="A customer's user id."
    )


class IpAllocationSerializer(StrictSerializer):
    pool = serializers.PrimaryKeyRelatedField(
        queryset=IpPool.objects.select_related("network"), required=False
    )
    network = serializers.PrimaryKeyRelatedField(queryset=Network.objects.all(), required=False)
    address = serializers.IPAddressField(required=False, help_text="Ask for this exact address.")
    family = serializers.ChoiceField(choices=IP_FAMILIES, required=False)
    set_as_main = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Make it the server's main address of its family (default: if it has none).",
    )

    def validate(self, attrs):
        if attrs.get("pool") and attrs.get("network"):
            raise serializers.ValidationError({"network": "Give a pool or a network, not both."})
        return attrs


class IpAddressSerializer(StrictModelSerializer):
    pool = serializers.PrimaryKeyRelatedField(read_only=True)
    network = serializers.CharField(source="pool.network.cidr", read_only=True)
    server = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    server_name = serializers.CharField(source="server.name", read_only=True, allow_null=True)

    class Meta:
        model = IpAddress
        fields = [
            "id",
            "address",
            "family",
            "pool",
            "network",
            "server",
            "server_name",
            "is_main",
            "status",
            "created_at",
            "updated_at",
        ]


class NetworkSerializer(StrictModelSerializer):
    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), allow_null=True, required=False
    )
    dns_servers = serializers.ListField(
        child=serializers.IPAddressField(), required=False, max_length=8
    )

    class Meta:
        model = Network
        fields = [
            "id",
            "name",
            "cidr",
            "family",
            "gateway",
            "vlan",
            "location",
            "dns_servers",
            "description",
            "boot",
        ]
        read_only_fields = ["family"]
        extra_kwargs = {"cidr": {"validators": []}}


class IpPoolSerializer(StrictModelSerializer):
    network = serializers.PrimaryKeyRelatedField(queryset=Network.objects.all())
    size = serializers.SerializerMethodField(help_text="Addresses the pool can hand out")
    used = serializers.IntegerField(source="used_count", read_only=True)
    free = serializers.SerializerMethodField()

    class Meta:
        model = IpPool
        fields = [
            "id",
            "network",
            "name",
            "first_address",
            "last_address",
            "is_public",
            "size",
            "used",
            "free",
        ]

    def get_size(self, pool) -> int:
        return pool.size

    def get_free(self, pool) -> int:
        return pool.size - pool.used_count


def _secret_field(name: str, **options) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=128,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=f"The {name}: stored encrypted, never returned; an empty string clears it.",
        **options,
    )


class SnmpDeviceSerializer(StrictModelSerializer):
    """A switch or PDU: the SNMP secrets are write-only; the answer says which are set."""

    location = serializers.PrimaryKeyRelatedField(
        queryset=Location.objects.all(), allow_null=True, required=False
    )
    community = _secret_field("SNMP v2c community")
    auth_key = _secret_field("SNMP v3 auth key (at least 8 characters)")
    priv_key = _secret_field("SNMP v3 privacy key (at least 8 characters)")
    has_community = serializers.SerializerMethodField()
    has_auth_key = serializers.SerializerMethodField()
    has_priv_key = serializers.SerializerMethodField()

    class Meta:
        fields = [
            "id",
            "name",
            "location",
            "address",
            "port",
            "snmp_version",
            "community",
            "username",
            "auth_protocol",
            "auth_key",
            "priv_protocol",
            "priv_key",
            "has_community",
            "has_auth_key",
            "has_priv_key",
            "reachable",
            "last_seen",
            "last_error",
            "notes",
        ]
        read_only_fields = ["reachable", "last_seen", "last_error"]
        extra_kwargs = {"name": {"validators": []}}
        validators = []  # a name or address taken is refused by the service, naming the device

    def get_has_community(self, device) -> bool:
        return device.has_secret("community")

    def get_has_auth_key(self, device) -> bool:
        return device.has_secret("auth_key")

    def get_has_priv_key(self, device) -> bool:
        return device.has_secret("priv_key")

    def validate_address(self, value):
        return _device_address(value)

    def secrets(self) -> dict[str, str]:
        """The secrets the request sets or clears (popped from validated_data)."""
        return {
            name: self.validated_data.pop(name)
            for name in SnmpDevice.SECRETS
            if name in self.validated_data
        }


class SwitchSerializer(SnmpDeviceSerializer):
    port_count = serializers.IntegerField(read_only=True)

    class Meta(SnmpDeviceSerializer.Meta):
        model = Switch
        fields = [*SnmpDeviceSerializer.Meta.fields, "drift_policy", "port_count"]


class PduSerializer(SnmpDeviceSerializer):
    outlet_count = serializers.IntegerField(read_only=True)

    class Meta(SnmpDeviceSerializer.Meta):
        model = Pdu
        fields = [
            *SnmpDeviceSerializer.Meta.fields,
            "profile",
            "control_oid",
            "state_oid",
            "on_value",
            "off_value",
            "cycle_seconds",
            "outlet_count",
        ]


class ConnectionPointSerializer(StrictModelSerializer):
    """A switch port or PDU outlet and the server connected to it."""

    server = serializers.PrimaryKeyRelatedField(
        queryset=Server.objects.all(),
        allow_null=True,
        required=False,
        help_text="The connected server; null disconnects it. One connected to another "
        "server is a 409: disconnect it first.",
    )
    server_name = serializers.CharField(source="server.name", read_only=True, allow_null=True)


class SwitchPortSerializer(ConnectionPointSerializer):
    switch = serializers.PrimaryKeyRelatedField(queryset=Switch.objects.all())
    switch_name = serializers.CharField(source="switch.name", read_only=True)

    class Meta:
        model = SwitchPort
        fields = [
            "id",
            "switch",
            "switch_name",
            "name",
            "if_index",
            "description",
            "speed_mbps",
            "server",
            "server_name",
            "is_ipmi_connection",
            "admin_status",
            "oper_status",
            "status_read_at",
            "discovered_at",
        ]
        read_only_fields = ["admin_status", "oper_status", "status_read_at", "discovered_at"]
        validators = []  # duplicate names and ifIndexes are refused by the service, by name


class PduOutletSerializer(ConnectionPointSerializer):
    pdu = serializers.PrimaryKeyRelatedField(queryset=Pdu.objects.all())
    pdu_name = serializers.CharField(source="pdu.name", read_only=True)

    class Meta:
        model = PduOutlet
        fields = [
            "id",
            "pdu",
            "pdu_name",
            "number",
            "name",
            "server",
            "server_name",
            "power_state",
            "state_read_at",
            "discovered_at",
        ]
        read_only_fields = ["power_state", "state_read_at", "discovered_at"]
        validators = []  # a duplicate number is refused by the service, by name
