"""Retention of the tables that grow without bound: operations (with their logs and boot
tickets), the audit log (and the serial console sessions it tells of), and webhook events
(with their deliveries), each deleted once older than its PANEL_RETAIN_*_DAYS (0 keeps it for
good).

Rows go in batches, each its own short transaction walking the primary key, so a purge of
years of history never holds one long DELETE and its locks; a run stops after `seconds`,
shared between the tables (each gets a batch at least), and the next one goes on. Never
deleted: an operation still queued or running, each server's newest operation (the DCImanager
API answers it as the server's task; the server's page lists its recent ones), each server's
newest suspend or resume (DCImanager's server state reads it), and
a webhook event with a delivery still pending."""

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from dci.selectors import PORT_KINDS
from panel import audit
from panel.models import AuditEvent
from provisioning.models import ConsoleSession, Operation
from webhooks.models import Delivery, Event

logger = logging.getLogger(__name__)

BATCH = 1000
TASK_SECONDS = 60  # well inside django-q2's task timeout; the next day's run goes on


def purge_history(
    *, now: datetime | None = None, batch: int = BATCH, seconds: float | None = None
) -> Counter:
    """Delete what is past its retention; returns the rows deleted per model label
    (`provisioning.Operation`, `provisioning.OperationEvent`, ...), audited when any."""
    now = now or timezone.now()
    deadline = time.monotonic() + seconds if seconds is not None else None
    tables = [
        (days, candidates)
        for days, candidates in (
            (settings.PANEL_RETAIN_OPERATIONS_DAYS, old_operations),
            (settings.PANEL_RETAIN_AUDIT_DAYS, old_audit_events),
            (settings.PANEL_RETAIN_AUDIT_DAYS, old_console_sessions),
            (settings.PANEL_RETAIN_WEBHOOK_DAYS, old_webhook_events),
        )
        if days > 0
    ]
    deleted: Counter = Counter()
    for index, (days, candidates) in enumerate(tables):
        # Each table its share of the time left, so a years-long backlog of operations does
        # not starve the audit log and the webhook events of every run.
        stop_at = None
        if deadline is not None:
            stop_at = time.monotonic() + (deadline - time.monotonic()) / (len(tables) - index)
        deleted.update(_delete_in_batches(candidates(now - timedelta(days=days)), batch, stop_at))
    if deleted:
        logger.info("Purged history past its retention: %s", _counts_text(deleted))
        audit.record(actor=None, action="history.purge", deleted=dict(sorted(deleted.items())))
    return deleted


def old_operations(cutoff: datetime) -> QuerySet:
    newer = Operation.objects.filter(
        server=OuterRef("server"), created_at__gt=OuterRef("created_at")
    )
    return (
        Operation.objects.filter(created_at__lt=cutoff)
        .exclude(state__in=Operation.ACTIVE_STATES)
        .filter(Exists(newer))
        .filter(~Q(kind__in=PORT_KINDS) | Exists(newer.filter(kind__in=PORT_KINDS)))
    )


def old_audit_events(cutoff: datetime) -> QuerySet:
    return AuditEvent.objects.filter(created_at__lt=cutoff)


def old_console_sessions(cutoff: datetime) -> QuerySet:
    """Closed ones, and links never used (a link is good for a minute)."""
    return ConsoleSession.objects.filter(created_at__lt=cutoff).exclude(
        state__in=[ConsoleSession.State.OPEN, ConsoleSession.State.ENDING]
    )


def old_webhook_events(cutoff: datetime) -> QuerySet:
    pending = Delivery.objects.filter(event=OuterRef("pk"), status=Delivery.Status.PENDING)
    return Event.objects.filter(created_at__lt=cutoff).exclude(Exists(pending))


def _delete_in_batches(candidates: QuerySet, batch: int, stop_at: float | None) -> Counter:
    """At least one batch, however little time is left: every run makes progress on each
    table."""
    deleted: Counter = Counter()
    after = None
    while True:
        with transaction.atomic():
            rows = candidates if after is None else candidates.filter(pk__gt=after)
            ids = list(rows.order_by("pk").values_list("pk", flat=True)[:batch])
            if ids:
                batch_rows = candidates.model.objects.filter(pk__in=ids).only("pk")  # no payloads
                deleted.update(batch_rows.delete()[1])
        if len(ids) < batch or (stop_at is not None and time.monotonic() >= stop_at):
            break
        after = ids[-1]
    return +deleted  # without the related models that had nothing to delete


def _counts_text(deleted: Counter) -> str:
    return ", ".join(f"{count} {label}" for label, count in sorted(deleted.items())) or "nothing"


def purge_report(deleted: Counter) -> str:
    """One line for the task's result and the command's output."""
    return f"purged {_counts_text(deleted)}"
