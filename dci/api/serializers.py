"""DCImanager v3's shapes, filled with the panel's data.

Where the panel keeps nothing for a field (a platform, a chassis, Intel AMT, IPmanager's
userspaces, VLAN quotas), the field is there with its empty value (null, "", [] or {}),
never an invented one. Input serializers take exactly the documented fields.
"""

import functools

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dci.selectors import SERVER_STATES, state_info
from inventory.models import PduOutlet, SwitchPort
from panel.api.serializers import StrictSerializer
from panel.models import User
from provisioning.installers import RAID_NAMES, WIPE_MODES
from provisioning.models import Operation

FAMILY_NAMES = {4: "ipv4", 6: "ipv6"}
# ipnet's `family` is the address family number of the C library: AF_INET, AF_INET6.
ADDRESS_FAMILY = {4: 2, 6: 10}
ROLES = {User.Role.ADMIN: "@admin", User.Role.CUSTOMER: "@user"}
OPERATION_STATUS = {
    Operation.State.QUEUED: "pending",
    Operation.State.RUNNING: "running",
    Operation.State.SUCCEEDED: "complete",
    Operation.State.FAILED: "fail",
    Operation.State.CANCELLED: "fail",  # status_info says it was cancelled
}
PORT_STATUS = {"up": "up", "down": "down", "testing": "testing", "unknown": "unknown"}
OUTLET_STATUS = {PduOutlet.PowerState.ON: "up", PduOutlet.PowerState.OFF: "down"}


def _port_status(value: str) -> str:
    """IF-MIB's other states (dormant, notPresent, lowerLayerDown) carry no traffic: down."""
    return PORT_STATUS.get(value, "down")


class ListEnvelope(serializers.Serializer):
    """Every DCImanager list: `list`, and `size`, the number of rows the condition matches."""

    size = serializers.IntegerField()


@functools.cache
def listed(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of `{"list": [item...], "size": n}`."""
    return type(
        f"{item.__name__.removesuffix('Serializer')}ListSerializer",
        (ListEnvelope,),
        {"list": item(many=True), "__module__": __name__},
    )


class DciIdSerializer(serializers.Serializer):
    id = serializers.IntegerField()


class DciTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The server's id (an address's, for IP calls)")
    task = serializers.IntegerField(
        allow_null=True,
        help_text="The operation started: poll the server's `operation` (or /api/v1/operations/"
        "{task}/). null where the change is made at once (IP addresses).",
    )


class DciConfigurationSerializer(serializers.Serializer):
    configuration = serializers.CharField(source="name")
    free_server_count = serializers.IntegerField()


class DciOperationSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="kind", help_text="What it does, e.g. install")
    status = serializers.SerializerMethodField(
        help_text="pending, running, complete or fail (a cancelled one fails)"
    )
    status_info = serializers.SerializerMethodField()
    progress_info = serializers.SerializerMethodField()

    def get_status(self, operation) -> str:
        return OPERATION_STATUS[operation.state]

    def get_status_info(self, operation) -> dict:
        if operation.state == Operation.State.CANCELLED:
            return {"cancelled": True, "msg": operation.error}
        return {"msg": operation.error} if operation.error else {}

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_progress_info(self, operation) -> list:
        return [{"step": operation.step, "progress": operation.progress}]


class DciOsTemplateRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="null once the template is deleted")
    name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class DciIpSerializer(serializers.Serializer):
    domain = serializers.SerializerMethodField(help_text="Not kept by the panel: always empty")
    family = serializers.SerializerMethodField()
    gateway = serializers.SerializerMethodField()
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="address")
    network = serializers.CharField(source="pool.network.cidr")
    status = serializers.SerializerMethodField(
        help_text="ok: the panel allocates an address at once, so it is never in progress"
    )
    status_info = serializers.DictField(default=dict, read_only=True)

    def get_domain(self, ip) -> str:
        return ""

    def get_family(self, ip) -> str:
        return FAMILY_NAMES[ip.family]

    def get_gateway(self, ip) -> str:
        return ip.pool.network.gateway or ""

    def get_status(self, ip) -> str:
        return "ok"


class DciListedIpSerializer(DciIpSerializer):
    server = serializers.SerializerMethodField(help_text="The server's name; empty if reserved")

    def get_server(self, ip) -> str:
        return ip.server.name if ip.server_id else ""


class DciSwitchConnectionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    switch = serializers.IntegerField(source="switch_id")
    connection_id = serializers.IntegerField(
        source="pk", help_text="The port's id: a port connects one server"
    )
    description = serializers.SerializerMethodField()
    admin_status = serializers.SerializerMethodField()
    oper_status = serializers.SerializerMethodField()
    do_not_collect_traffic = serializers.BooleanField(
        source="is_ipmi_connection", help_text="Traffic is read on data ports, not the BMC's"
    )
    is_ipmi_connection = serializers.BooleanField()

    def get_description(self, port: SwitchPort) -> str:
        return port.description or port.name

    def get_admin_status(self, port: SwitchPort) -> str:
        return _port_status(port.admin_status)

    def get_oper_status(self, port: SwitchPort) -> str:
        return _port_status(port.oper_status)


class DciPduConnectionSerializer(serializers.Serializer):
    port_id = serializers.IntegerField(source="pk")
    port_identity = serializers.SerializerMethodField()
    pdu_id = serializers.IntegerField()
    pdu_name = serializers.CharField(source="pdu.name")
    connection_id = serializers.IntegerField(source="pk", help_text="The outlet's id")
    power_status = serializers.SerializerMethodField(help_text="up, down or unknown")

    def get_port_identity(self, outlet: PduOutlet) -> str:
        return outlet.name or str(outlet.number)

    def get_power_status(self, outlet: PduOutlet) -> str:
        return OUTLET_STATUS.get(outlet.power_state, "unknown")


class DciIpmiSerializer(serializers.Serializer):
    address = serializers.CharField()
    id = serializers.IntegerField(source="pk")
    status = serializers.SerializerMethodField(
        help_text="The power state: on, off, unknown, or in_progress while a power operation runs"
    )
    status_info = serializers.SerializerMethodField()
    type = serializers.SerializerMethodField(help_text="The panel speaks IPMI v2 (lanplus)")
    web_url = serializers.SerializerMethodField(help_text="Not kept by the panel: always empty")

    def get_status(self, bmc) -> str:
        if bmc.server.dci_power_busy:
            return "in_progress"
        return bmc.power_state

    def get_status_info(self, bmc) -> dict:
        return {"reachable": bmc.reachable, "error": bmc.last_error} if bmc.last_error else {}

    def get_type(self, bmc) -> str:
        return "IPMI v2(lanplus)"

    def get_web_url(self, bmc) -> str:
        return ""


class DciLocationSerializer(serializers.Serializer):
    geolocation = serializers.CharField(source="address")
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    userspace = serializers.IntegerField(
        allow_null=True, default=None, read_only=True, help_text="No IPmanager: null"
    )


class DciRackSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    size = serializers.IntegerField(source="size_u")


class DciOwnerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    email = serializers.EmailField()


class DciServerSerializer(serializers.Serializer):
    """DCImanager's server object. Needs a server from `views.servers()` and, in the context,
    `operations` and `templates` from `dci.selectors`."""

    operation = serializers.SerializerMethodField()
    domain = serializers.SerializerMethodField(help_text="Not kept by the panel: always empty")
    id = serializers.IntegerField(source="pk")
    os_template = serializers.SerializerMethodField()
    hardware_info = serializers.JSONField(
        source="facts", help_text="What the last diagnostics reported; {} before any ran"
    )
    perform_info = serializers.DictField(default=dict, read_only=True)
    configuration = serializers.CharField(source="profile.name")
    settings = serializers.DictField(default=dict, read_only=True)
    state = serializers.ChoiceField(source="dci_state", choices=SERVER_STATES)
    state_info = serializers.SerializerMethodField()
    ip = DciIpSerializer(source="ip_list", many=True)
    switch_connection = DciSwitchConnectionSerializer(source="port_list", many=True)
    pdu_connection = serializers.SerializerMethodField(
        help_text="The first outlet feeding the server (/api/v1/ lists every one), or null"
    )
    ipmi = serializers.SerializerMethodField()
    intel_amt = serializers.SerializerMethodField(help_text="Not managed by the panel: null")
    location = serializers.SerializerMethodField()
    location_id = serializers.SerializerMethodField()
    mac = serializers.CharField(allow_null=True)
    main_ipv4 = serializers.SerializerMethodField(help_text="The main IPv4 address's id")
    main_ipv6 = serializers.SerializerMethodField(help_text="The main IPv6 address's id")
    name = serializers.CharField()
    platform = serializers.SerializerMethodField(help_text="Not kept by the panel: null")
    rack = serializers.SerializerMethodField()
    unit = serializers.IntegerField(allow_null=True)
    chassis = serializers.SerializerMethodField(help_text="Not kept by the panel: null")
    slot = serializers.SerializerMethodField(help_text="Not kept by the panel: null")
    owner = serializers.SerializerMethodField()
    owner_email = serializers.SerializerMethodField()
    diag_error = serializers.ListField(child=serializers.DictField(), default=list, read_only=True)
    is_new = serializers.BooleanField(
        default=False, read_only=True, help_text="Enrolled servers are ready: always false"
    )

    def _nested(self, serializer: type[serializers.Serializer], instance) -> dict | None:
        """`instance` in `serializer`'s shape, by one serializer per class for the whole list:
        a new one per server copied its fields again for every row (a list of 100 servers
        built 600 serializers, and their garbage cost more than the rest of the request)."""
        if instance is None:
            return None
        nested = self.__dict__.setdefault("_nested_serializers", {})
        if serializer not in nested:
            nested[serializer] = serializer(context=self.context)
        return nested[serializer].to_representation(instance)

    @extend_schema_field(DciOperationSerializer(allow_null=True))
    def get_operation(self, server):
        operation = self.context["operations"].get(server.pk)
        return self._nested(DciOperationSerializer, operation)

    def get_domain(self, server) -> str:
        return ""

    @extend_schema_field(DciOsTemplateRefSerializer(allow_null=True))
    def get_os_template(self, server):
        if not server.current_os:
            return None
        template = self.context["templates"].get(server.current_os)
        if template is None:
            return {"id": None, "name": server.current_os, "tags": []}
        return {"id": template.pk, "name": template.name, "tags": list(template.tags)}

    def get_state_info(self, server) -> str:
        return state_info(server)

    @extend_schema_field(DciPduConnectionSerializer(allow_null=True))
    def get_pdu_connection(self, server):
        outlets = server.outlet_list
        return self._nested(DciPduConnectionSerializer, outlets[0] if outlets else None)

    @extend_schema_field(DciIpmiSerializer(allow_null=True))
    def get_ipmi(self, server):
        bmc = getattr(server, "bmc", None)
        if bmc is None:
            return None
        server.dci_power_busy = self._power_busy(server)
        return self._nested(DciIpmiSerializer, bmc)

    def _power_busy(self, server) -> bool:
        operation = self.context["operations"].get(server.pk)
        return bool(
            operation
            and operation.state in Operation.ACTIVE_STATES
            and operation.kind.startswith("power_")
        )

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_intel_amt(self, server):
        return None

    @extend_schema_field(DciLocationSerializer(allow_null=True))
    def get_location(self, server):
        return self._nested(DciLocationSerializer, server.rack.location if server.rack_id else None)

    def get_location_id(self, server) -> int | None:
        return server.rack.location_id if server.rack_id else None

    def _main(self, server, family: int) -> int | None:
        return next(
            (ip.pk for ip in server.ip_list if ip.family == family and ip.is_main),
            None,
        )

    def get_main_ipv4(self, server) -> int | None:
        return self._main(server, 4)

    def get_main_ipv6(self, server) -> int | None:
        return self._main(server, 6)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_platform(self, server):
        return None

    @extend_schema_field(DciRackSerializer(allow_null=True))
    def get_rack(self, server):
        return self._nested(DciRackSerializer, server.rack if server.rack_id else None)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_chassis(self, server):
        return None

    def get_slot(self, server) -> int | None:
        return None

    @extend_schema_field(DciOwnerRefSerializer(allow_null=True))
    def get_owner(self, server):
        return self._nested(DciOwnerRefSerializer, server.owner if server.owner_id else None)

    def get_owner_email(self, server) -> str | None:
        return server.owner.email if server.owner_id else None


class DciUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    email = serializers.EmailField()
    server_count = serializers.IntegerField()
    roles = serializers.SerializerMethodField(help_text="@admin (staff) or @user")
    vlans_per_user = serializers.IntegerField(
        allow_null=True, default=None, read_only=True, help_text="No VLAN quotas: null"
    )

    def get_roles(self, user) -> list[str]:
        return [ROLES[user.role]]


class DciNetworkSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    family = serializers.SerializerMethodField(help_text="2 (IPv4) or 10 (IPv6)")
    mask = serializers.SerializerMethodField(help_text="The prefix length")
    gateway = serializers.SerializerMethodField()
    userspace = serializers.IntegerField(allow_null=True, default=None, read_only=True)
    vlan = serializers.SerializerMethodField()
    note = serializers.CharField(source="description")
    size = serializers.SerializerMethodField(help_text="Addresses in the network")
    using_ip = serializers.SerializerMethodField(help_text="Addresses in use")
    total_ip = serializers.SerializerMethodField(help_text="Addresses its pools hand out")

    def get_family(self, network) -> int:
        return ADDRESS_FAMILY[network.family]

    def get_mask(self, network) -> int:
        return network.ip_network.prefixlen

    def get_gateway(self, network) -> str:
        return network.gateway or ""

    def get_vlan(self, network) -> str:
        return "" if network.vlan is None else str(network.vlan)

    def get_size(self, network) -> str:
        return str(network.ip_network.num_addresses)

    def get_using_ip(self, network) -> str:
        return str(network.used_count)

    def get_total_ip(self, network) -> str:
        return str(sum(pool.size for pool in network.pools.all()))


class DciPoolSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    userspace = serializers.IntegerField(allow_null=True, default=None, read_only=True)
    note = serializers.SerializerMethodField(help_text="The pool's network and range")
    is_public = serializers.SerializerMethodField(help_text='"true" or "false"')
    using_ip = serializers.SerializerMethodField()
    using_ipv4 = serializers.SerializerMethodField()
    using_ipv6 = serializers.SerializerMethodField()
    total_ip = serializers.SerializerMethodField()
    total_ipv4 = serializers.SerializerMethodField()
    total_ipv6 = serializers.SerializerMethodField()

    def _by_family(self, pool, family: int, value: int) -> str:
        return str(value if pool.network.family == family else 0)

    def get_note(self, pool) -> str:
        return f"{pool.network.cidr}: {pool.first_address} - {pool.last_address}"

    def get_is_public(self, pool) -> str:
        return "true" if pool.is_public else "false"

    def get_using_ip(self, pool) -> str:
        return str(pool.used_count)

    def get_using_ipv4(self, pool) -> str:
        return self._by_family(pool, 4, pool.used_count)

    def get_using_ipv6(self, pool) -> str:
        return self._by_family(pool, 6, pool.used_count)

    def get_total_ip(self, pool) -> str:
        return str(pool.size)

    def get_total_ipv4(self, pool) -> str:
        return self._by_family(pool, 4, pool.size)

    def get_total_ipv6(self, pool) -> str:
        return self._by_family(pool, 6, pool.size)


# Requests: exactly the documented fields.


class DciEmptyRequestSerializer(StrictSerializer):
    """`{}`: the call takes no parameters."""


class DciNewUserSerializer(StrictSerializer):
    email = serializers.EmailField()
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    password = serializers.CharField(required=False, allow_blank=False, write_only=True)
    phone_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=list(ROLES.values()), default="@user")


class DciOwnerRequestSerializer(StrictSerializer):
    owner = serializers.IntegerField(help_text="The user's id")


class DciIpRequestSerializer(StrictSerializer):
    domain = serializers.CharField(
        max_length=253, required=False, allow_blank=True, help_text="Accepted; not kept"
    )
    family = serializers.ChoiceField(choices=list(FAMILY_NAMES.values()), required=False)
    ip_name = serializers.IPAddressField(
        required=False, allow_blank=True, help_text="A particular address; empty for any"
    )
    ip_net = serializers.IntegerField(required=False, help_text="A network's id")
    ip_pool = serializers.IntegerField(required=False, help_text="A pool's id")
    set_as_main_ipv4 = serializers.BooleanField(required=False)
    userspace = serializers.IntegerField(
        required=False, allow_null=True, help_text="Accepted; the panel has one address space"
    )


class DciDiagnosticsRequestSerializer(StrictSerializer):
    setup_ipmi = serializers.BooleanField(
        default=False, help_text="false only: the panel does not configure BMCs"
    )
    ipmi_pool = serializers.IntegerField(required=False, allow_null=True)
    os_template_id = serializers.IntegerField(
        required=False, help_text="The utility template's id (it is used anyway)"
    )
    clear_hdd = serializers.ChoiceField(choices=WIPE_MODES, default="none")


class DciClearHddRequestSerializer(StrictSerializer):
    clear_hdd = serializers.ChoiceField(choices=WIPE_MODES)


class DciOsRequestSerializer(StrictSerializer):
    hdd_raid = serializers.ChoiceField(choices=RAID_NAMES, default="no_raid")
    os_template_id = serializers.IntegerField()
    password = serializers.CharField(required=False, allow_blank=True, write_only=True)
    ssh_pub_keys = serializers.ListField(
        child=serializers.CharField(max_length=16384, allow_blank=True),
        required=False,
        default=list,
        help_text="Public key texts (empty entries are skipped)",
    )
