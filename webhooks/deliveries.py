"""Deliveries: created with their event, queued after commit, sent by a worker, retried with
exponential backoff for PANEL_WEBHOOK_RETRY_HOURS, at least once (receivers deduplicate by
the event id). A subscription failing for PANEL_WEBHOOK_DISABLE_AFTER_HOURS is disabled."""

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone
from redis.exceptions import RedisError

from panel import audit
from panel.broker import queue_task
from webhooks import sending, signing
from webhooks.models import Delivery, Event, Subscription

log = logging.getLogger(__name__)
SEND_TASK = "webhooks.tasks.send"
Status = Delivery.Status
BATCH = 20  # deliveries per queued task


def _requeue_at(now):
    """If the queued task never runs (a worker died, the broker lost it), the sweep queues
    the delivery again after this."""
    return now + timedelta(seconds=settings.PANEL_WEBHOOK_REQUEUE_SECONDS)


def create(event: Event, subscription_ids: list[int]) -> list[Delivery]:
    now = timezone.now()
    rows = Delivery.objects.bulk_create(
        Delivery(
            subscription_id=subscription_id,
            event=event,
            next_attempt_at=_requeue_at(now),
            retry_until=now + timedelta(hours=settings.PANEL_WEBHOOK_RETRY_HOURS),
        )
        for subscription_id in subscription_ids
    )
    _queue_on_commit([row.pk for row in rows])
    return rows


class _Queued:
    """An on-commit callback queueing deliveries; consecutive `create`s in a transaction add
    to the same one, so a transaction publishing many events queues one task per BATCH."""

    def __init__(self, ids: list[int]):
        self.ids = ids
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        queue(list(dict.fromkeys(self.ids)))  # a savepoint rolled back may leave gone ids


def _queue_on_commit(ids: list[int]) -> None:
    callbacks = transaction.get_connection().run_on_commit
    last = callbacks[-1][1] if callbacks else None
    if isinstance(last, _Queued) and not last.ran:
        last.ids.extend(ids)
    else:
        transaction.on_commit(_Queued(ids))


def queue(ids: list[int]) -> None:
    """Hand deliveries to the workers. A broker that refuses is logged, not raised (the caller's
    work is committed): the sweep queues them when it answers."""
    for start in range(0, len(ids), BATCH):
        try:
            queue_task(SEND_TASK, ids[start : start + BATCH], task_name="webhook-delivery")
        except (RedisError, DatabaseError) as exc:
            log.error("Could not queue webhook deliveries (%s); the sweep retries.", exc)
            return


def queue_due(limit: int = 1000) -> int:
    """The periodic sweep: queue what is due (retries, and deliveries never picked up)."""
    now = timezone.now()
    due = Delivery.objects.filter(
        status=Status.PENDING, next_attempt_at__lte=now, subscription__active=True
    ).exclude(subscription__paused_until__gt=now)
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    Delivery.objects.filter(pk__in=ids).update(next_attempt_at=_requeue_at(now))
    queue(ids)
    return len(ids)


def _claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    lease = now + timedelta(seconds=settings.PANEL_WEBHOOK_TIMEOUT * 3)
    taken = (
        Delivery.objects.filter(pk=delivery_id, status=Status.PENDING, subscription__active=True)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(lease_expires_at=lease)
    )
    if not taken:
        return None
    return Delivery.objects.select_related("subscription", "event").get(pk=delivery_id)


def send(delivery_id: int) -> Delivery | None:
    """Attempt one delivery now (a worker's job); None if it is not pending or another
    worker holds it."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    paused_until = delivery.subscription.paused_until
    if paused_until and paused_until > timezone.now():
        _postpone(delivery, paused_until)
        return delivery
    body = json.dumps(delivery.event.envelope(), separators=(",", ":")).encode()
    sent_at = int(time.time())
    answer = sending.post(
        delivery.subscription.url,
        body,
        {
            signing.HEADER: signing.signature(delivery.subscription.reveal_secret(), sent_at, body),
            "Metalpanel-Event-Id": str(delivery.event.pk),
            "Metalpanel-Event-Type": delivery.event.type,
        },
    )
    _record(delivery, answer)
    return delivery


def _postpone(delivery: Delivery, until) -> None:
    """Not tried now: its receiver failed a moment ago and is paused until `until`."""
    delivery.lease_expires_at, delivery.next_attempt_at = None, until
    delivery.save(update_fields=["lease_expires_at", "next_attempt_at"])


def backoff(attempts: int) -> timedelta:
    """First retry after PANEL_WEBHOOK_BACKOFF_SECONDS, doubling, capped."""
    seconds = settings.PANEL_WEBHOOK_BACKOFF_SECONDS * 2 ** min(attempts - 1, 20)
    return timedelta(seconds=min(seconds, settings.PANEL_WEBHOOK_BACKOFF_MAX_SECONDS))


def _record(delivery: Delivery, answer: sending.Answer) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = answer.status
    delivery.last_error = answer.error[:500]
    delivery.lease_expires_at = None
    if answer.delivered:
        delivery.status = Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif now + backoff(delivery.attempts) > delivery.retry_until:
        delivery.status = Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    with transaction.atomic():
        delivery.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "response_code",
                "last_error",
                "lease_expires_at",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        _note_outcome(delivery.subscription, answer, now)


def _note_outcome(subscription: Subscription, answer: sending.Answer, now) -> None:
    """Keep since when a subscription fails; after a day of nothing but failures, disable it."""
    mine = Subscription.objects.filter(pk=subscription.pk)
    if answer.delivered:
        mine.filter(consecutive_failures__gt=0).update(
            failing_since=None, consecutive_failures=0, paused_until=None
        )
        return
    if answer.status is None:  # no answer at all (refused, timed out): pause the receiver
        failures = subscription.consecutive_failures + 1
        mine.update(
            consecutive_failures=F("consecutive_failures") + 1,
            paused_until=now + backoff(failures),
        )
    mine.filter(failing_since__isnull=True).update(failing_since=now)
    limit = now - timedelta(hours=settings.PANEL_WEBHOOK_DISABLE_AFTER_HOURS)
    reason = (
        f"Disabled automatically: every delivery failed for "
        f"{settings.PANEL_WEBHOOK_DISABLE_AFTER_HOURS:g} h (last: {answer.error[:150]})"
    )
    if mine.filter(active=True, failing_since__lte=limit).update(
        active=False, disabled_reason=reason
    ):
        log.warning("Webhook subscription %s disabled after a day of failures.", subscription.pk)
        audit.record(
            actor=None,
            action="webhook.disabled",
            target=subscription,
            url=subscription.url,
            reason=reason,
        )
