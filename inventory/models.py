"""What exists in the datacenter: places, racks, configurations, servers, BMCs, IPAM."""

import ipaddress
from contextlib import suppress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from inventory.addresses import normalise_mac, parse_address, parse_network, validate_host_name
from panel import encryption
from panel.querysets import OwnedQuerySet

IP_FAMILIES = [(4, "IPv4"), (6, "IPv6")]
# The states of provisioning's Operation in which a server is busy (its Operation.ACTIVE_STATES):
# named here because inventory reaches operations by their reverse relation and imports nothing
# above it.
ACTIVE_OPERATION_STATES = ("queued", "running")


def _unusable(net) -> set:
    """IPv4 network and broadcast addresses, which no host may have (except in /31 and /32)."""
    if net.version == 4 and net.prefixlen < 31:
        return {net.network_address, net.broadcast_address}
    return set()


def _is_address(value) -> bool:
    try:
        parse_address(value)
    except ValidationError:
        return False
    return True


# How people read the facts the utility image reports; other keys show as they are named.
FACT_LABELS = {
    "cpu": "CPU model",
    "cpus": "CPU threads",
    "ram_mb": "Memory",
    "disks": "Disks",
    "nics": "Network interfaces",
}
# Reported memory is what the kernel leaves (MemTotal), a little under what is fitted; disks
# are sold in decimal GB. Within these fractions a fact matches its configuration.
RAM_TOLERANCE = 0.1
DISK_TOLERANCE = 0.1


def _readable_item(item) -> str:
    """A disk or a NIC as the agent image reports them (dicts), on one line."""
    if not isinstance(item, dict):
        return str(item)
    if "size_bytes" in item:
        kind = "HDD" if item.get("rotational") else "SSD"
        words = [item.get("name"), f"{item['size_bytes'] / 1e9:.1f} GB", kind]
        words += [item.get("model"), item.get("serial")]
    else:
        words = [item.get("name"), item.get("mac"), f"link {item.get('link', '?')}"]
    return " ".join(str(word) for word in words if word)


def _readable_fact(name: str, value) -> str:
    if name == "ram_mb" and isinstance(value, int):
        return f"{round(value / 1024)} GB"
    if name == "disks" and isinstance(value, str):
        return ", ".join(value.split())
    if isinstance(value, list):
        return ", ".join(_readable_item(item) for item in value)
    return str(value)


def _off(found: float, expected: float, tolerance: float) -> bool:
    return abs(found - expected) > expected * tolerance


class Location(models.Model):
    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Rack(models.Model):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="racks")
    name = models.CharField(max_length=100)
    size_u = models.PositiveSmallIntegerField(
        "size (U)", default=42, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )

    class Meta:
        ordering = ["location__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"], name="rack_name_unique_per_location"
            )
        ]

    def __str__(self):
        return f"{self.location.name} / {self.name}"


class HardwareProfileQuerySet(models.QuerySet):
    def with_server_counts(self):
        """Annotate total and free (see ServerQuerySet.free) servers: exact counts, each a
        subquery per profile on the (profile, owner, state, suspended) index, not a grouping
        of the whole fleet."""
        candidates = Server.objects.for_sale()
        return self.annotate(
            total_server_count=_count_per_profile(Server.objects.all()),
            # Exact, and never joins the fleet: the candidates (an index range) less those
            # of them held back, found through the few unreachable BMCs and active operations.
            free_server_count=_count_per_profile(candidates)
            - _count_per_profile(candidates.held_back()),
        )


def _count_per_profile(servers):
    """Counting the profile column (never null here), not the id, so that the count reads
    only the (profile, owner, state, suspended) index."""
    counted = servers.filter(profile=OuterRef("pk")).order_by().values("profile")
    return Coalesce(Subquery(counted.annotate(count=Count("profile")).values("count")), 0)


class HardwareProfile(models.Model):
    """A sellable configuration, e.g. `i9-9900K-64Gb-2x1024NVMe`."""

    class DiskKind(models.TextChoices):
        NVME = "nvme", "NVMe"
        SSD = "ssd", "SSD"
        HDD = "hdd", "HDD"

    name = models.CharField(max_length=100, unique=True)
    cpu = models.CharField("CPU", max_length=100)
    cpu_cores = models.PositiveSmallIntegerField(default=1)
    ram_gb = models.PositiveIntegerField("RAM (GB)")
    disk_count = models.PositiveSmallIntegerField(default=1)
    disk_size_gb = models.PositiveIntegerField("disk size (GB)")
    disk_kind = models.CharField(max_length=8, choices=DiskKind.choices, default=DiskKind.SSD)
    description = models.TextField(blank=True)

    objects = HardwareProfileQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # Sold as "configurations" (DCImanager's word); the model keeps its technical name.
        verbose_name = "configuration"
        verbose_name_plural = "configurations"

    def __str__(self):
        return self.name


def _search_matches(term: str) -> Q:
    matches = Q(name__istartswith=term)
    # Only a term that is an address or a MAC is compared with them (PostgreSQL's inet
    # column refuses anything else).
    with suppress(ValidationError):
        address = str(parse_address(term))
        matches |= Q(pk__in=IpAddress.objects.filter(address=address).values("server"))
    with suppress(ValidationError):
        matches |= Q(mac=normalise_mac(term))
    return matches


def _held_back() -> Q:
    """Servers whose BMC is known unreachable or that have an operation queued or running,
    each set found from its own few rows (subqueries on partial indexes, not joins over the
    fleet)."""
    unreachable = Bmc.objects.filter(reachable=False).values("server")
    busy = Server.objects.filter(operations__state__in=ACTIVE_OPERATION_STATES)
    return Q(pk__in=unreachable) | Q(pk__in=busy.values("pk"))


class ServerQuerySet(OwnedQuerySet):
    owner_path = "owner"

    def free(self):
        """Free to sell: ready, unowned, not suspended, BMC not known to be unreachable, and
        no operation queued or running (an install or wipe still underway). Operations are
        provisioning's: reached by the reverse relation's name, nothing imported."""
        return self.for_sale().exclude(_held_back())

    def for_sale(self):
        """Ready, unowned and not suspended: free unless held_back."""
        return self.filter(state=Server.State.READY, owner__isnull=True, suspended=False)

    def held_back(self):
        return self.filter(_held_back())

    def with_address(self, address: str):
        """Servers with this exact address, each once (a subquery, not a join)."""
        return self.filter(pk__in=IpAddress.objects.filter(address=address).values("server"))

    def search(self, term: str):
        """Name prefix in any case, or exact address or PXE MAC: what indexes serve (a name's
        middle would be a scan of the fleet)."""
        return self.filter(_search_matches(term))

    def staff_search(self, term: str):
        """What staff look servers up by besides `search`: an exact serial, BMC address or
        owner e-mail (subqueries, so each side keeps its own index)."""
        owners = self.model._meta.get_field("owner").related_model.objects.filter(
            email__iexact=term
        )
        return self.filter(
            _search_matches(term)
            | Q(serial=term)
            | Q(pk__in=Bmc.objects.filter(address=term).values("server"))
            | Q(owner__in=owners.values("pk"))
        )

    def with_main_ipv4(self):
        """Annotate `main_ipv4`: the server's main IPv4 address, or None."""
        main = IpAddress.objects.filter(server=OuterRef("pk"), family=4, is_main=True)
        return self.annotate(main_ipv4=Subquery(main.values("address")[:1]))

    def with_connections(self):
        """Each server's IPs (main first), switch ports and PDU outlets as the lists
        `ip_list`, `port_list` and `outlet_list`, three queries for any number of servers.

        As lists (to_attr) because a Prefetch with its own queryset otherwise clones that
        queryset for every server: a third of the time of a page of 100."""
        return self.prefetch_related(
            Prefetch(
                "ip_addresses",
                IpAddress.objects.select_related("pool__network").order_by(
                    "-is_main", "family", "pk"
                ),
                to_attr="ip_list",
            ),
            Prefetch(
                "switch_ports",
                SwitchPort.objects.select_related("switch").order_by("switch__name", "name"),
                to_attr="port_list",
            ),
            Prefetch(
                "pdu_outlets",
                PduOutlet.objects.select_related("pdu").order_by("pdu__name", "number"),
                to_attr="outlet_list",
            ),
        )


class Server(models.Model):
    class State(models.TextChoices):
        READY = "ready", "Ready"
        MAINTENANCE = "maintenance", "Maintenance"
        FAULTY = "faulty", "Faulty"
        RETIRED = "retired", "Retired"

    # 63 by the rule; the column keeps 100 for names enrolled before it that staff must
    # rename (see migration 0004).
    name = models.CharField(max_length=100, unique=True, validators=[validate_host_name])
    profile = models.ForeignKey(
        HardwareProfile,
        on_delete=models.PROTECT,
        related_name="servers",
        verbose_name="configuration",
    )
    rack = models.ForeignKey(
        Rack, null=True, blank=True, on_delete=models.PROTECT, related_name="servers"
    )
    unit = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    mac = models.CharField("PXE MAC", max_length=17, unique=True, null=True, blank=True)
    serial = models.CharField(max_length=100, blank=True)
    facts = models.JSONField("hardware facts", default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="servers",
    )
    owner_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the current owner got it"
    )
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.READY, db_index=True
    )
    suspended = models.BooleanField(default=False)
    suspend_reason = models.CharField(max_length=200, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    current_os = models.CharField("current OS", max_length=100, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # For a billing system's incremental sync (?updated_since=): set by every change to the
    # row and to the server's addresses; not by power readings (the BMC's row has those).
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = ServerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # Free and total counts per configuration, and the lists' filters on them.
            models.Index(
                fields=["profile", "owner", "state", "suspended"], name="server_profile_owner_state"
            ),
            # The servers for sale (see ServerQuerySet.for_sale) by configuration, with their
            # ids: the free count subtracts those held back without reading a row.
            models.Index(
                fields=["profile", "id"],
                condition=Q(state="ready", owner__isnull=True, suspended=False),
                name="server_for_sale",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["rack", "unit"], name="server_one_per_rack_unit"),
            models.CheckConstraint(
                condition=Q(rack__isnull=True, unit__isnull=True)
                | Q(rack__isnull=False, unit__isnull=False),
                name="server_rack_and_unit_together",
            ),
        ]

    def __str__(self):
        return self.name

    def hardware_rows(self) -> list[tuple[str, str]]:
        """The facts diagnostics reported, as (label, value) lines a person reads."""
        return [
            (
                FACT_LABELS.get(name, name.replace("_", " ").capitalize()),
                _readable_fact(name, value),
            )
            for name, value in self.facts.items()
        ]

    def hardware_mismatches(self) -> list[str]:
        """Where the facts diagnostics reported differ from the server's configuration."""
        facts, profile = self.facts, self.profile
        found = []
        cpus = facts.get("cpus")
        if isinstance(cpus, int) and cpus not in (profile.cpu_cores, 2 * profile.cpu_cores):
            found.append(f"{cpus} CPU threads for {profile.cpu_cores} cores")
        ram_mb = facts.get("ram_mb")
        if isinstance(ram_mb, int) and _off(ram_mb, profile.ram_gb * 1024, RAM_TOLERANCE):
            found.append(f"{ram_mb} MB of memory for {profile.ram_gb} GB")
        disks = [disk for disk in facts.get("disks", []) if isinstance(disk, dict)]
        if disks and len(disks) != profile.disk_count:
            found.append(f"{len(disks)} disks for {profile.disk_count}")
        for disk in disks:
            size = disk.get("size_bytes")
            if isinstance(size, int) and _off(size, profile.disk_size_gb * 1e9, DISK_TOLERANCE):
                found.append(
                    f"disk {disk.get('name')} has {size / 1e9:.1f} GB for {profile.disk_size_gb} GB"
                )
        return found


class Bmc(models.Model):
    """The server's baseboard management controller, reached over IPMI."""

    class Interface(models.TextChoices):
        LANPLUS = "lanplus", "IPMI 2.0 (lanplus)"

    class PowerState(models.TextChoices):
        ON = "on", "On"
        OFF = "off", "Off"
        UNKNOWN = "unknown", "Unknown"

    class DriftPolicy(models.TextChoices):
        RECORD = "record", "Record drift"
        ENFORCE = "enforce", "Restore the requested state"

    server = models.OneToOneField(Server, on_delete=models.CASCADE, related_name="bmc")
    address = models.CharField(max_length=253, help_text="IP address or host name")
    port = models.PositiveIntegerField(
        default=623, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    interface = models.CharField(
        max_length=16, choices=Interface.choices, default=Interface.LANPLUS
    )
    username = models.CharField(max_length=64)
    password_encrypted = models.TextField(editable=False)
    power_state = models.CharField(
        max_length=8, choices=PowerState.choices, default=PowerState.UNKNOWN
    )
    power_state_read_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    reachable = models.BooleanField(null=True, blank=True, help_text="Unknown until first polled")
    last_error = models.CharField(max_length=500, blank=True)
    cipher_suite = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="RMCP+ cipher suite that last worked (17 or 3)",
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    next_poll_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    # A power-sync round takes the due BMCs for its chunks to read (provisioning.powersync).
    sweep_round = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the power-sync round that last took this BMC was planned",
    )
    sweep_claimed_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Until then that round's chunk holds the BMC; cleared once its read is stored",
    )
    drift_policy = models.CharField(
        max_length=8,
        choices=DriftPolicy.choices,
        default=DriftPolicy.RECORD,
        help_text="When the power state changes without an operation: record it, or restore "
        "the last requested state",
    )
    desired_power_state = models.CharField(
        max_length=8,
        choices=PowerState.choices,
        blank=True,
        editable=False,
        help_text="The last state an operation brought the server to",
    )

    class Meta:
        verbose_name = "BMC"
        verbose_name_plural = "BMCs"
        constraints = [
            models.UniqueConstraint(fields=["address", "port"], name="bmc_unique_endpoint")
        ]
        # Each chunk asks whether its round still holds a BMC; the last one counts the round.
        indexes = [
            models.Index(fields=["sweep_round", "sweep_claimed_until"], name="bmc_sweep"),
            # The few BMCs known unreachable, which hold their servers back from sale.
            models.Index(fields=["server"], condition=Q(reachable=False), name="bmc_unreachable"),
        ]

    def __str__(self):
        return f"{self.address}:{self.port}"

    def set_password(self, password: str) -> None:
        self.password_encrypted = encryption.encrypt(password)

    def reveal_password(self) -> str:
        """Decrypt for a driver call only; never log, render or return it."""
        return encryption.decrypt(self.password_encrypted)


validate_oid = RegexValidator(
    r"^\.?[0-2](\.(0|[1-9][0-9]{0,9}))+$",
    "Give a numeric OID such as 1.3.6.1.4.1.318.1.1.12.3.3.1.1.4 (no names, no trailing dot).",
)
INTEGER32 = [MinValueValidator(-(2**31)), MaxValueValidator(2**31 - 1)]  # SNMP's INTEGER


class SnmpDevice(models.Model):
    """A device the panel reaches over SNMP; its secrets are encrypted at rest, never returned."""

    class Version(models.TextChoices):
        V2C = "2c", "SNMP v2c (community)"
        V3 = "3", "SNMP v3 (user)"

    class AuthProtocol(models.TextChoices):
        NONE = "", "None"
        MD5 = "md5", "HMAC-MD5"
        SHA = "sha", "HMAC-SHA-1"
        SHA224 = "sha224", "HMAC-SHA-224"
        SHA256 = "sha256", "HMAC-SHA-256"
        SHA384 = "sha384", "HMAC-SHA-384"
        SHA512 = "sha512", "HMAC-SHA-512"

    class PrivProtocol(models.TextChoices):
        NONE = "", "None"
        DES = "des", "DES"
        AES = "aes", "AES-128"
        AES192 = "aes192", "AES-192"
        AES256 = "aes256", "AES-256"

    SECRETS = ("community", "auth_key", "priv_key")

    name = models.CharField(max_length=100, unique=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(max_length=253, help_text="IP address or host name")
    port = models.PositiveIntegerField(
        default=161, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    snmp_version = models.CharField(
        "SNMP version", max_length=2, choices=Version.choices, default=Version.V2C
    )
    community_encrypted = models.TextField(blank=True, editable=False)
    username = models.CharField("SNMP v3 user", max_length=64, blank=True)
    auth_protocol = models.CharField(
        max_length=8, choices=AuthProtocol.choices, blank=True, default=AuthProtocol.NONE
    )
    auth_key_encrypted = models.TextField(blank=True, editable=False)
    priv_protocol = models.CharField(
        max_length=8, choices=PrivProtocol.choices, blank=True, default=PrivProtocol.NONE
    )
    priv_key_encrypted = models.TextField(blank=True, editable=False)
    reachable = models.BooleanField(null=True, blank=True, help_text="Unknown until first polled")
    last_seen = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    next_poll_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    notes = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name

    def set_secret(self, name: str, value: str) -> None:
        """Store `community`, `auth_key` or `priv_key` encrypted ("" clears it)."""
        if name not in self.SECRETS:
            raise ValueError(name)
        setattr(self, f"{name}_encrypted", encryption.encrypt(value) if value else "")

    def reveal_secret(self, name: str) -> str:
        """Decrypt for a driver call only; never log, render or return it."""
        if name not in self.SECRETS:
            raise ValueError(name)
        stored = getattr(self, f"{name}_encrypted")
        return encryption.decrypt(stored) if stored else ""

    def has_secret(self, name: str) -> bool:
        return bool(getattr(self, f"{name}_encrypted"))


class Switch(SnmpDevice):
    """An access switch; its server-facing ports are shut to suspend a server."""

    class DriftPolicy(models.TextChoices):
        RECORD = "record", "Record drift"
        ENFORCE = "enforce", "Restore the port state the panel set"

    drift_policy = models.CharField(
        max_length=8,
        choices=DriftPolicy.choices,
        default=DriftPolicy.RECORD,
        help_text="When a port's admin status changes outside the panel (a suspended server's "
        "port enabled by hand): record it, or set it back",
    )

    class Meta(SnmpDevice.Meta):
        verbose_name_plural = "switches"
        constraints = [
            models.UniqueConstraint(fields=["address", "port"], name="switch_unique_endpoint")
        ]


class Pdu(SnmpDevice):
    """A switched PDU; its outlets are the hard power of last resort."""

    class Profile(models.TextChoices):
        APC_SPDU = "apc_spdu", "APC MasterSwitch (PowerNet sPDUOutletCtl)"
        APC_RPDU = "apc_rpdu", "APC Rack PDU (PowerNet rPDUOutletControlOutletCommand)"
        GENERIC = "generic", "Generic (an OID per outlet, on/off values)"

    profile = models.CharField(max_length=16, choices=Profile.choices, default=Profile.APC_RPDU)
    control_oid = models.CharField(
        "control OID",
        max_length=200,
        blank=True,
        validators=[validate_oid],
        help_text="Generic profile: the OID the outlet number is appended to, to switch it",
    )
    state_oid = models.CharField(
        "state OID",
        max_length=200,
        blank=True,
        validators=[validate_oid],
        help_text="Generic profile: the OID the outlet number is appended to, to read it "
        "(blank: the control OID)",
    )
    on_value = models.IntegerField(
        null=True, blank=True, validators=INTEGER32, help_text="Generic profile"
    )
    off_value = models.IntegerField(
        null=True, blank=True, validators=INTEGER32, help_text="Generic profile"
    )
    cycle_seconds = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="How long an outlet stays off during a power cycle (1-20 s)",
    )

    class Meta(SnmpDevice.Meta):
        verbose_name = "PDU"
        verbose_name_plural = "PDUs"
        constraints = [
            models.UniqueConstraint(fields=["address", "port"], name="pdu_unique_endpoint")
        ]

    def clean(self):
        if self.profile == self.Profile.GENERIC:
            missing = {
                name: "The generic profile needs it."
                for name in ("control_oid", "on_value", "off_value")
                if getattr(self, name) in ("", None)
            }
            if missing:
                raise ValidationError(missing)
            if self.on_value == self.off_value:
                raise ValidationError({"off_value": "On and off need different values."})


class SwitchPortQuerySet(models.QuerySet):
    def data(self):
        """The ports that carry a server's own traffic: every one but its BMC's. Suspend
        shuts these, and traffic is counted on these."""
        return self.filter(is_ipmi_connection=False)


class SwitchPort(models.Model):
    """A switch interface (IF-MIB ifIndex); connected to a server, it carries its traffic."""

    class Status(models.TextChoices):
        # IF-MIB ifAdminStatus / ifOperStatus, by name
        UP = "up", "Up"
        DOWN = "down", "Down"
        TESTING = "testing", "Testing"
        UNKNOWN = "unknown", "Unknown"
        DORMANT = "dormant", "Dormant"
        NOT_PRESENT = "notPresent", "Not present"
        LOWER_LAYER_DOWN = "lowerLayerDown", "Lower layer down"

    switch = models.ForeignKey(Switch, on_delete=models.CASCADE, related_name="ports")
    name = models.CharField(max_length=64, help_text="ifName, e.g. Gi1/0/1")
    if_index = models.PositiveIntegerField(
        "ifIndex",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(2**31 - 1)],  # IF-MIB's range
        help_text="Set by discovery; needed to drive the port",
    )
    description = models.CharField(max_length=255, blank=True, help_text="ifDescr")
    speed_mbps = models.PositiveIntegerField(null=True, blank=True, help_text="ifHighSpeed")
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="switch_ports"
    )
    is_ipmi_connection = models.BooleanField(
        "BMC port",
        default=False,
        help_text="Carries the server's BMC: left up when the server is suspended",
    )
    admin_status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    oper_status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    status_read_at = models.DateTimeField(null=True, blank=True)
    discovered_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = SwitchPortQuerySet.as_manager()

    class Meta:
        ordering = ["switch", "if_index", "name"]
        constraints = [
            models.UniqueConstraint(fields=["switch", "name"], name="switchport_unique_name"),
            models.UniqueConstraint(
                fields=["switch", "if_index"], name="switchport_unique_ifindex"
            ),
        ]

    def __str__(self):
        return f"{self.switch.name} {self.name}"


class PduOutlet(models.Model):
    """A PDU outlet feeding one of a server's power supplies."""

    class PowerState(models.TextChoices):
        ON = "on", "On"
        OFF = "off", "Off"
        UNKNOWN = "unknown", "Unknown"

    pdu = models.ForeignKey(Pdu, on_delete=models.CASCADE, related_name="outlets")
    number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(32767)]
    )
    name = models.CharField(max_length=64, blank=True)
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="pdu_outlets"
    )
    power_state = models.CharField(
        max_length=8, choices=PowerState.choices, default=PowerState.UNKNOWN
    )
    state_read_at = models.DateTimeField(null=True, blank=True)
    discovered_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["pdu", "number"]
        constraints = [
            models.UniqueConstraint(fields=["pdu", "number"], name="pduoutlet_unique_number")
        ]

    def __str__(self):
        return f"{self.pdu.name} outlet {self.number}"


class Network(models.Model):
    name = models.CharField(max_length=100)
    cidr = models.CharField("CIDR", max_length=49, unique=True)
    family = models.PositiveSmallIntegerField(choices=IP_FAMILIES, editable=False)
    gateway = models.GenericIPAddressField(null=True, blank=True)
    vlan = models.PositiveSmallIntegerField(
        "VLAN", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4094)]
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="networks"
    )
    dns_servers = models.JSONField("DNS servers", default=list, blank=True)
    description = models.CharField(max_length=200, blank=True)
    boot = models.BooleanField(
        "boot network",
        default=False,
        help_text="Servers PXE boot here: the panel's boot endpoints answer its addresses, "
        "and dnsmasq_config serves it.",
    )

    class Meta:
        ordering = ["family", "cidr"]

    def __str__(self):
        return f"{self.name} ({self.cidr})"

    @property
    def ip_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr)

    def clean(self):
        try:
            net = parse_network(self.cidr)
        except ValidationError as exc:
            raise ValidationError({"cidr": exc.messages}) from exc
        self.cidr, self.family = str(net), net.version
        errors = {}
        if self.gateway:
            gateway = parse_address(self.gateway)
            if gateway not in net or gateway in _unusable(net):
                errors["gateway"] = [f"The gateway must be a host address inside {net}."]
            self.gateway = str(gateway)
        bad_dns = [s for s in self.dns_servers or [] if not _is_address(s)]
        if bad_dns:
            errors["dns_servers"] = [f'"{bad_dns[0]}" is not an IP address.']
        others = Network.objects.exclude(pk=self.pk).values_list("cidr", flat=True)
        clash = next((o for o in others if net.overlaps(ipaddress.ip_network(o))), None)
        if clash:
            errors["cidr"] = [f"{net} overlaps network {clash}."]
        if errors:
            raise ValidationError(errors)


class IpPoolQuerySet(models.QuerySet):
    def with_usage(self):
        return self.annotate(used_count=Count("addresses"))


class IpPool(models.Model):
    """A range of a network from which addresses are handed out."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(max_length=100)
    first_address = models.GenericIPAddressField()
    last_address = models.GenericIPAddressField()
    is_public = models.BooleanField(default=True)

    objects = IpPoolQuerySet.as_manager()

    class Meta:
        ordering = ["network__cidr", "name"]
        verbose_name = "IP pool"
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="pool_name_unique_per_network")
        ]

    def __str__(self):
        return f"{self.name} ({self.first_address} - {self.last_address})"

    @property
    def first(self):
        return ipaddress.ip_address(self.first_address)

    @property
    def last(self):
        return ipaddress.ip_address(self.last_address)

    def clean(self):
        if self.network_id is None:
            return
        net = self.network.ip_network
        errors = {}
        for field in ("first_address", "last_address"):
            try:
                address = parse_address(getattr(self, field))
            except ValidationError as exc:
                errors[field] = exc.messages
                continue
            if address.version != net.version or address not in net:
                errors[field] = [f"{address} is not inside {net}."]
            elif address in _unusable(net):
                errors[field] = [f"{address} is the network or broadcast address of {net}."]
            setattr(self, field, str(address))
        if not errors and self.first > self.last:
            errors["last_address"] = ["The last address must not come before the first."]
        if not errors:
            others = IpPool.objects.filter(network=self.network).exclude(pk=self.pk)
            clash = next((o for o in others if o.first <= self.last and self.first <= o.last), None)
            if clash:
                errors["first_address"] = [f"The range overlaps pool {clash.name}."]
        if errors:
            raise ValidationError(errors)

    def contains(self, address) -> bool:
        return address.version == self.first.version and self.first <= address <= self.last

    def excluded(self) -> set:
        """Addresses in range that are never handed out: the network's gateway."""
        gateway = self.network.gateway
        return {ipaddress.ip_address(gateway)} if gateway else set()

    @property
    def size(self) -> int:
        """Addresses this pool can hand out."""
        span = int(self.last) - int(self.first) + 1
        return span - sum(1 for address in self.excluded() if self.contains(address))


class IpAddressQuerySet(OwnedQuerySet):
    owner_path = "server__owner"

    def on_boot_networks(self):
        """Where servers PXE boot from: boot tickets are bound to these, dnsmasq reserves them."""
        return self.filter(pool__network__boot=True, server__isnull=False)


class IpAddress(models.Model):
    class Status(models.TextChoices):
        ALLOCATED = "allocated", "Allocated to a server"
        RESERVED = "reserved", "Reserved by staff"

    address = models.GenericIPAddressField(unique=True)
    family = models.PositiveSmallIntegerField(choices=IP_FAMILIES, editable=False)
    pool = models.ForeignKey(IpPool, on_delete=models.PROTECT, related_name="addresses")
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.CASCADE, related_name="ip_addresses"
    )
    is_main = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ALLOCATED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = IpAddressQuerySet.as_manager()

    class Meta:
        ordering = ["family", "address"]
        indexes = [models.Index(fields=["family", "address"], name="ipaddress_family_address")]
        verbose_name = "IP address"
        verbose_name_plural = "IP addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["server", "family"],
                condition=Q(is_main=True),
                name="one_main_ip_per_family",
            ),
        ]

    def __str__(self):
        return self.address

    def save(self, *args, **kwargs):
        self.family = parse_address(self.address).version
        super().save(*args, **kwargs)


SERVER_STATES = Server.State.choices  # named for the OpenAPI schema's enum
