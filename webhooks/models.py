"""Subscriptions, the events published to them, and one delivery per event and subscription."""

import uuid

from django.db import models

from panel import encryption

EVENT_TYPES = (
    "operation.succeeded",
    "operation.failed",
    "operation.cancelled",
    "server.assigned",
    "server.released",
    "server.suspended",
    "server.resumed",
    "server.power_drift",
    "bmc.unreachable",
    "bmc.reachable",
    "install.progress",
)
# Chatty: only subscriptions that name it get it, never those that take "every event".
OPT_IN_EVENT_TYPES = frozenset({"install.progress"})
PING = "ping"  # sent to one subscription on request, to test the receiver


def wants(event_types: list[str], event_type: str) -> bool:
    """Whether a subscription listing `event_types` takes `event_type`."""
    if event_type in event_types:
        return True
    return not event_types and event_type not in OPT_IN_EVENT_TYPES


class Subscription(models.Model):
    """A receiver of events: its URL, the secret deliveries are signed with, and which
    events it takes (none listed: every event but the opt-in ones)."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    event_types = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True, db_index=True)
    # Since when every delivery attempt has failed (None: the last one succeeded); a day of
    # that disables the subscription.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    # After an attempt that got no answer (refused, timed out), no other delivery to this
    # receiver is tried before this time (the backoff of such failures in a row): a dead or
    # hanging receiver holds one worker for one attempt per pause, not one per delivery.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    def set_secret(self, value: str) -> None:
        self.secret_encrypted = encryption.encrypt(value)

    def reveal_secret(self) -> str:
        """Decrypt to sign a delivery only; never log, render or return it."""
        return encryption.decrypt(self.secret_encrypted)

    def takes(self, event_type: str) -> bool:
        return wants(self.event_types, event_type)


class Event(models.Model):
    """What happened, once: its id is the receiver's key for deduplication."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, db_index=True)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)  # retention

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.type} {self.id}"

    def envelope(self) -> dict:
        """The JSON body; the same on every attempt."""
        return {
            "id": str(self.id),
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }


class Delivery(models.Model):
    """One event to one subscription: retried with backoff until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,  # indexed below with created_at
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When the periodic sweep queues it (again); pushed ahead whenever it is queued.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField()
    # Held by the worker sending it, so two workers never send it at once.
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # What the delivery log shows of each (the API and the admin).
    LOG_FIELDS = (
        "status",
        "attempts",
        "response_code",
        "last_error",
        "last_attempt_at",
        "delivered_at",
        "next_attempt_at",
        "retry_until",
        "created_at",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            # A webhook's delivery log (API, admin), and the whole log, newest first.
            models.Index(
                fields=["subscription", "created_at"], name="delivery_subscription_created"
            ),
            models.Index(fields=["created_at"], name="delivery_created"),
        ]

    def __str__(self):
        return f"{self.event.type} to {self.subscription} ({self.status})"
