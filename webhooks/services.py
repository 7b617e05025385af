"""Staff's changes to subscriptions and deliveries; every one audited (never the secret)."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from panel import audit
from panel.exceptions import Conflict, NotAllowed
from panel.models import User
from webhooks import deliveries
from webhooks.models import EVENT_TYPES, PING, Delivery, Event, Subscription

SECRET_MIN_LENGTH = 16
FIELDS = ("name", "url", "event_types", "active")


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _check(actor: User, *, event_types=None, secret: str | None = None) -> None:
    if not actor.is_admin:
        raise NotAllowed("Only hosting staff may manage webhooks.")
    unknown = sorted(set(event_types or ()) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"event_types": [f"Unknown event types: {', '.join(unknown)}."]})
    if secret is not None and len(secret) < SECRET_MIN_LENGTH:
        raise ValidationError(
            {"secret": [f"A secret has at least {SECRET_MIN_LENGTH} characters."]}
        )


@transaction.atomic
def create_subscription(
    *,
    actor: User,
    name: str,
    url: str,
    event_types: list[str] | None = None,
    active: bool = True,
    secret: str | None = None,
) -> tuple[Subscription, str]:
    """A new subscription and its secret (generated when none is given): the only time the
    secret is handed back."""
    _check(actor, event_types=event_types, secret=secret)
    secret = secret or new_secret()
    subscription = Subscription(
        name=name, url=url, event_types=sorted(set(event_types or ())), active=active
    )
    subscription.set_secret(secret)
    subscription.save()
    audit.record(actor=actor, action="webhook.create", target=subscription, url=url)
    return subscription, secret


@transaction.atomic
def update_subscription(
    *, actor: User, subscription: Subscription, secret: str | None = None, **changes
) -> Subscription:
    """Change fields of FIELDS and/or the secret; turning a subscription on again forgets its
    failures (and why it was disabled)."""
    _check(actor, event_types=changes.get("event_types"), secret=secret)
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"Not a subscription field: {', '.join(sorted(unknown))}")
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    if changes.get("active") and not subscription.active:
        subscription.failing_since, subscription.disabled_reason = None, ""
        subscription.consecutive_failures, subscription.paused_until = 0, None
    for name, value in changes.items():
        setattr(subscription, name, value)
    if secret:
        subscription.set_secret(secret)
    subscription.save()
    audit.record(
        actor=actor,
        action="webhook.update",
        target=subscription,
        fields=sorted([*changes, *(["secret"] if secret else [])]),
    )
    return subscription


@transaction.atomic
def delete_subscription(*, actor: User, subscription: Subscription) -> None:
    _check(actor)
    audit.record(actor=actor, action="webhook.delete", target=subscription, url=subscription.url)
    subscription.delete()


@transaction.atomic
def redeliver(*, actor: User, delivery: Delivery) -> Delivery:
    """Send a delivery again, whatever became of it (the receiver deduplicates by event id);
    it is retried for another PANEL_WEBHOOK_RETRY_HOURS."""
    _check(actor)
    delivery = (
        Delivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
    )
    if not delivery.subscription.active:
        raise Conflict(
            f"The webhook {delivery.subscription} is disabled; enable it before redelivering."
        )
    now = timezone.now()
    # Asked for by a person: tried now, even if its receiver is paused after failures.
    Subscription.objects.filter(pk=delivery.subscription_id).update(paused_until=None)
    delivery.status = Delivery.Status.PENDING
    delivery.retry_until = now + timedelta(hours=settings.PANEL_WEBHOOK_RETRY_HOURS)
    delivery.next_attempt_at = now + timedelta(seconds=settings.PANEL_WEBHOOK_REQUEUE_SECONDS)
    delivery.save(update_fields=["status", "retry_until", "next_attempt_at"])
    audit.record(
        actor=actor,
        action="webhook.redeliver",
        target=delivery.subscription,
        delivery=delivery.pk,
        event=str(delivery.event_id),
    )
    transaction.on_commit(lambda: deliveries.queue([delivery.pk]))
    return delivery


@transaction.atomic
def ping(*, actor: User, subscription: Subscription) -> Delivery:
    """A `ping` event to this subscription only, to test its receiver."""
    _check(actor)
    if not subscription.active:
        raise Conflict(f"The webhook {subscription} is disabled; enable it to test it.")
    event = Event.objects.create(type=PING, data={"webhook": subscription.pk})
    (delivery,) = deliveries.create(event, [subscription.pk])
    audit.record(actor=actor, action="webhook.ping", target=subscription, event=str(event.pk))
    return delivery
