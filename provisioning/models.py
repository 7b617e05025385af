"""What happens to servers: operations (jobs) and their event logs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory.models import Server
from panel.querysets import OwnedQuerySet


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

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.QUEUED, db_index=True
    )
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
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker picked it up")
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = OperationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
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


OPERATION_STATES = Operation.State.choices  # named for the OpenAPI schema's enum
