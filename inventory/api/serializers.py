import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_ipv46_address
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.models import (
    IP_FAMILIES,
    Bmc,
    HardwareProfile,
    IpAddress,
    IpPool,
    Location,
    Network,
    Rack,
    Server,
)
from panel.api.serializers import StrictModelSerializer, StrictSerializer, UserRefSerializer
from panel.models import User

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)


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
        value = value.strip()
        try:
            validate_ipv46_address(value)
        except DjangoValidationError:
            if not _HOSTNAME.match(value):
                raise serializers.ValidationError("Enter an IP address or a host name.") from None
        return value


class ServerIpSerializer(StrictModelSerializer):
    class Meta:
        model = IpAddress
        fields = ["id", "address", "family", "is_main"]


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
    ips = ServerIpSerializer(source="ip_addresses", many=True, read_only=True)
    bmc = BmcSerializer()
    hardware_info = serializers.SerializerMethodField(
        help_text="What the last diagnostics reported (the utility image sends cpu, cpus, "
        "ram_mb and disks), or null before any ran."
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
            "owner",
            "os_template",
            "hardware_info",
            "ips",
            "bmc",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["suspended", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}
        validators = []  # placement and uniqueness are checked, with clear messages, by the service

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_location(self, server) -> str | None:
        return server.rack.location.name if server.rack_id else None

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_hardware_info(self, server) -> dict | None:
        return server.facts or None


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
