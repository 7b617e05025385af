"""What happens to servers: operations (jobs) and their event logs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory.models import ACTIVE_OPERATION_STATES, Server
from panel.querysets import OwnedQuerySet


class OsTemplateQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self if user.is_admin else self.filter(is_public=True, is_utility=False)


class OsTemplate(models.Model):
    """An installable OS (or the utility image): how to boot its installer and its config."""

    class Family(models.TextChoices):
        KICKSTART = "kickstart", "Kickstart (RHEL, AlmaLinux, Rocky)"
        PRESEED = "preseed", "Preseed (Debian)"
        AUTOINSTALL = "autoinstall", "Autoinstall (Ubuntu)"
        CLOUD_INIT = "cloud-init", "cloud-init"
        WINDOWS_UNATTEND = "windows-unattend", "Windows unattend"
        CUSTOM_IPXE = "custom-ipxe", "Custom iPXE script"

    name = models.CharField(max_length=100, unique=True)
    family = models.CharField(max_length=32, choices=Family.choices)
    description = models.CharField(max_length=300, blank=True)
    mirror_url = models.CharField(
        "mirror URL", max_length=500, blank=True, help_text="Package source, as {{ os.mirror }}"
    )
    kernel_url = models.CharField("kernel URL", max_length=500, blank=True)
    initrd_url = models.CharField("initrd URL", max_length=500, blank=True)
    boot_args = models.CharField(
        "boot arguments",
        max_length=1000,
        blank=True,
        help_text="Kernel command line; {{ config_url }} is where the installer finds its config.",
    )
    config = models.TextField(
        "installer config",
        blank=True,
        help_text="Django template language, autoescape off; see the README for the context.",
    )
    tags = models.JSONField(default=list, blank=True)
    is_public = models.BooleanField(default=True, help_text="Customers may install it")
    is_utility = models.BooleanField(
        default=False, help_text="The diagnostics and wipe image, not an OS"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = OsTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["family", "name"]
        verbose_name = "OS template"

    def __str__(self):
        return self.name

    def clean(self):
        from provisioning import installers  # rendering lives there; it imports this module

        installers.check_template(self)


class OperationQuerySet(OwnedQuerySet):
    owner_path = "server__owner"

    def active(self):
        return self.filter(state__in=Operation.ACTIVE_STATES)


class Operation(models.Model):
    """One job on one server, advanced step by step by workers."""

    class Kind(models.TextChoices):
        POWER_ON = "power_on", "Power on"
        POWER_OFF = "power_off", "Power off"
        SOFT_SHUTDOWN = "soft_shutdown", "Graceful shutdown"
        POWER_RESET = "power_reset", "Reset"
        POWER_CYCLE = "power_cycle", "Power cycle"
        SET_BOOTDEV = "set_bootdev", "Set boot device"
        INSTALL = "install", "OS installation"
        DIAGNOSTICS = "diagnostics", "Hardware diagnostics"
        WIPE = "wipe", "Disk wipe"
        SUSPEND = "suspend", "Suspend (switch ports down)"
        RESUME = "resume", "Resume (switch ports up)"
        PDU_ON = "pdu_on", "PDU outlet on"
        PDU_OFF = "pdu_off", "PDU outlet off"
        PDU_CYCLE = "pdu_cycle", "PDU outlet power cycle"
        CAPTURE = "capture", "Disk image capture"
        RESTORE = "restore", "Disk image restore"
        RESCUE = "rescue", "Rescue system"
        RESCUE_EXIT = "rescue_exit", "Leave the rescue system"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # Queued and running: named in inventory, which must know a busy server without importing
    # this module.
    ACTIVE_STATES = ACTIVE_OPERATION_STATES

    # Indexed below with created_at (a server's operations newest first), as are state and kind.
    server = models.ForeignKey(
        Server, on_delete=models.CASCADE, related_name="operations", db_index=False
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    step = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True, help_text="Never a plaintext secret")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    # For a billing system's incremental sync (?updated_since=): every change a caller can see
    # (state, step, progress, cancel, result) sets it; a worker's lease bookkeeping does not.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    deadline = models.DateTimeField(null=True, blank=True, help_text="The current step's")
    overall_deadline = models.DateTimeField(
        null=True, blank=True, help_text="No step, however often resumed, runs past it"
    )
    retry_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Recovery queues it again from then: a wake-up it could not queue or claim",
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker picked it up")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # The lists' filters (API, admin, portal, DCImanager's latest task), newest first.
        indexes = [
            models.Index(fields=["server", "created_at"], name="operation_server_created"),
            models.Index(fields=["state", "created_at"], name="operation_state_created"),
            models.Index(fields=["kind", "created_at"], name="operation_kind_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["server"],
                condition=Q(state__in=["queued", "running"]),
                name="one_active_operation_per_server",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="operation_progress_percent"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} on {self.server_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    # A crypt hash is not the password, but it can be attacked offline: never shown, and
    # dropped when the operation ends.
    SECRET_PARAMS = ("password_hash",)

    def params_after_end(self) -> dict:
        """Its params without what only the running install needed (the root password hash)."""
        return {
            name: value for name, value in self.params.items() if name not in self.SECRET_PARAMS
        }

    @property
    def canceller(self) -> str:
        """Who asked for the cancel, as the owner's log says it (staff stay nameless there)."""
        by = self.cancel_requested_by
        return "hosting staff" if by is not None and by.is_admin else "the owner"


class OperationEvent(models.Model):
    """A timestamped line in an operation's log."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    step = models.CharField(max_length=64, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.created_at:%H:%M:%S} [{self.level}] {self.message}"


class BootTicketQuerySet(models.QuerySet):
    def revoke(self, states=None) -> int:
        """End these tickets (the live ones, unless `states` says): their secrets stop working."""
        return self.filter(state__in=states or BootTicket.LIVE_STATES).update(
            state=BootTicket.State.REVOKED, finished_at=timezone.now()
        )


class BootTicket(models.Model):
    """What lets one machine fetch its installer config and report progress, for one
    operation. The secret is never stored: only its SHA-256; each boot script carries a
    fresh one, and the ticket dies with its operation or at its deadline. It answers one
    source address only, so a MAC or a sniffed secret is worth nothing elsewhere."""

    class State(models.TextChoices):
        ISSUED = "issued", "Waiting for the machine to boot from the network"
        BOOTED = "booted", "Boot script served"
        CONFIG_FETCHED = "config_fetched", "Installer config fetched"
        DONE = "done", "Installer reported success"
        FAILED = "failed", "Installer reported failure"
        REVOKED = "revoked", "Revoked"

    LIVE_STATES = (State.ISSUED, State.BOOTED, State.CONFIG_FETCHED)

    operation = models.OneToOneField(Operation, on_delete=models.CASCADE, related_name="ticket")
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="boot_tickets")
    mac = models.CharField(max_length=17)
    source_address = models.GenericIPAddressField(
        null=True,
        blank=True,
        help_text="The only address this install answers: the server's address on a boot "
        "network, else where its first boot script was fetched from",
    )
    secret_hash = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ISSUED)
    expires_at = models.DateTimeField()
    booted_at = models.DateTimeField(null=True, blank=True)
    config_fetched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    events_received = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="What the installer said last")

    objects = BootTicketQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mac"],
                condition=Q(state__in=["issued", "booted", "config_fetched"]),
                name="one_live_ticket_per_mac",
            )
        ]

    def __str__(self):
        return f"ticket for operation #{self.operation_id} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES and self.expires_at > timezone.now()


class RescueSessionQuerySet(models.QuerySet):
    def open(self):
        """Not ended: booting the rescue system, or in it."""
        return self.filter(ended_at__isnull=True)

    def current(self):
        """The servers in rescue now: the rescue system booted, and no exit has finished."""
        return self.open().filter(operation__state=Operation.State.SUCCEEDED)


class RescueSession(models.Model):
    """A server in the rescue system, from the request that boots it until it boots its disk
    again. How to log in is kept (key names, whether a one-time password was set); the
    password's hash travels only in the booting operation's params, dropped when it ends."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="rescue_sessions")
    operation = models.OneToOneField(
        Operation, on_delete=models.CASCADE, related_name="rescue_session"
    )
    ssh_keys = models.JSONField(
        default=list, blank=True, help_text="(name, SHA256 fingerprint) of each key it accepts"
    )
    password = models.BooleanField(default=False, help_text="A one-time root password was set")
    started_at = models.DateTimeField(null=True, blank=True, help_text="The rescue system is up")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="It is left by then")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    objects = RescueSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(ended_at__isnull=True),
                name="rescue_open_expires",
            )
        ]

    def __str__(self):
        return f"rescue of {self.server_id} (operation #{self.operation_id})"


OPERATION_STATES = Operation.State.choices  # named for the OpenAPI schema's enum


class DiskImage(models.Model):
    """A server's disks as the agent image captured them: per disk, gzipped pieces kept in
    Django's default storage, each with the SHA-256 of its raw bytes, and the SHA-256 of
    the whole raw disk once sealed. Restored onto the same or another server."""

    class State(models.TextChoices):
        CAPTURING = "capturing", "Capturing"
        READY = "ready", "Ready"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disk_images"
    )
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CAPTURING)
    source_server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_configuration = models.CharField(max_length=100, blank=True)
    source_os = models.CharField(max_length=100, blank=True)
    capture = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chunk_mib = models.PositiveSmallIntegerField()
    # [{"name", "bytes", "sha256", "pieces": [{"sha256", "stored"}]}], in capture order.
    disks = models.JSONField(default=list)
    stored_bytes = models.BigIntegerField(default=0, help_text="Compressed, as stored")
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="disk_image_name_per_owner")
        ]

    def __str__(self):
        return self.name

    @property
    def raw_bytes(self) -> int:
        return sum(disk["bytes"] for disk in self.disks)

    def piece_name(self, disk: str, index: int) -> str:
        return f"disk-images/{self.pk}/{disk}/{index:06d}.gz"


class SweepRecord(models.Model):
    """The last periodic sweep of a kind (the power sync), for /metrics in any process."""

    kind = models.CharField(max_length=16, unique=True)
    finished_at = models.DateTimeField()
    seconds = models.FloatField()
    polled = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.kind} sweep at {self.finished_at:%Y-%m-%d %H:%M:%S}"


class ConsoleSession(models.Model):
    """One viewer's use of a server's serial console: issued with a single-use token (only
    its SHA-256 is kept), open while its WebSocket holds the BMC's one SOL session, then
    closed with the reason. At most one is open per server, in every process at once."""

    class State(models.TextChoices):
        ISSUED = "issued", "Issued, not connected yet"
        OPEN = "open", "Open"
        ENDING = "ending", "Ending (its process is letting the BMC go)"
        CLOSED = "closed", "Closed"

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ISSUED)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="Connect before this; the token is void after")
    opened_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Its process was last seen alive at this time"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    close_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["server"],
                condition=Q(state="open"),
                name="one_open_console_per_server",
            )
        ]

    def __str__(self) -> str:
        return f"console of {self.server} for {self.user} ({self.state})"
