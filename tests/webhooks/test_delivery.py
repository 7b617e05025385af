"""Delivery to a real receiver on 127.0.0.1: signed, retried with backoff while it is down,
at least once without double processing, bounded in time, and a day of failures disables."""

import socket
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from panel.models import AuditEvent
from tests.webhooks.conftest import Receiver, body_of, run_webhook_tasks
from webhooks import deliveries, services
from webhooks.events import publish
from webhooks.models import Delivery, Event, Subscription

pytestmark = pytest.mark.django_db


def assigned(server_id=7):
    return {"server": {"id": server_id, "name": f"srv-{server_id}"}, "owner": None}


def come_due(delivery: Delivery) -> None:
    """Time passes until its retry is due (as the minute sweep would find it), and with it
    the pause of its receiver after the last failure."""
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=past)
    Subscription.objects.filter(pk=delivery.subscription_id).update(paused_until=past)


def test_a_published_event_reaches_the_receiver_signed_after_commit(receiver, subscribe, committed):
    subscribe(receiver, "server.assigned")
    with committed():
        publish("server.assigned", assigned())
        assert run_webhook_tasks() == 0  # nothing leaves before the commit

    assert run_webhook_tasks() == 1
    (request,) = receiver.requests
    assert request["valid"]  # the documented verify() accepts the signature
    event = body_of(request)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert (event["type"], event["data"]) == ("server.assigned", assigned())
    assert request["headers"]["Metalpanel-Event-Id"] == event["id"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)
    assert str(delivery.event_id) == event["id"]


def test_a_receiver_with_another_secret_sees_an_invalid_signature(subscribe, committed):
    receiver = Receiver(secret="whsec_not-the-subscriptions-secret").start()
    try:
        subscribe(receiver, "server.assigned", secret="whsec_the-subscriptions-secret")
        with committed():
            publish("server.assigned", assigned())
        run_webhook_tasks()
    finally:
        receiver.stop()
    assert [request["valid"] for request in receiver.requests] == [False]
    assert receiver.processed == []


def test_a_receiver_down_for_a_while_gets_the_event_once_it_is_up(subscribe, committed):
    receiver = Receiver()  # not started: connection refused
    subscribe(receiver, "server.assigned")
    with committed():
        publish("server.assigned", assigned())
    run_webhook_tasks()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, None)
    assert "ConnectionRefusedError" in delivery.last_error
    first_wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert first_wait == timedelta(seconds=30)

    assert deliveries.queue_due() == 0  # not due yet: the sweep leaves it
    come_due(delivery)
    assert deliveries.queue_due() == 1
    run_webhook_tasks()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.next_attempt_at - delivery.last_attempt_at == 2 * first_wait  # backoff

    receiver.start()
    try:
        come_due(delivery)
        deliveries.queue_due()
        run_webhook_tasks()
    finally:
        receiver.stop()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
    assert delivery.last_error == ""
    assert len(receiver.events("server.assigned")) == 1
    assert Subscription.objects.get().failing_since is None


def test_the_backoff_doubles_up_to_its_cap(settings):
    settings.PANEL_WEBHOOK_BACKOFF_SECONDS = 30
    settings.PANEL_WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    waits = [deliveries.backoff(attempt).total_seconds() for attempt in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_repeated_delivery_is_not_processed_twice_by_a_deduplicating_receiver(
    receiver, subscribe, committed, admin
):
    subscribe(receiver, "server.assigned")
    receiver.answers = [500]  # processed, then failed to answer well: the panel retries
    with committed():
        publish("server.assigned", assigned())
    run_webhook_tasks()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("pending", 500)
    assert "HTTP 500" in delivery.last_error

    come_due(delivery)
    deliveries.queue_due()
    run_webhook_tasks()
    with committed():
        services.redeliver(actor=admin, delivery=delivery)  # staff send it once more
    run_webhook_tasks()

    assert len(receiver.requests) == 3
    assert {body_of(request)["id"] for request in receiver.requests} == {str(delivery.event_id)}
    assert len(receiver.processed) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_publishing_to_a_slow_receiver_returns_at_once(receiver, subscribe, committed, settings):
    settings.PANEL_WEBHOOK_TIMEOUT = 1
    receiver.delay = 3
    subscribe(receiver, "server.assigned")

    began = time.monotonic()
    with committed():
        publish("server.assigned", assigned())
    assert time.monotonic() - began < 0.5  # only rows written and a task queued

    began = time.monotonic()
    run_webhook_tasks()  # the worker, not the caller, waits, and only as long as allowed
    assert time.monotonic() - began < 2.5
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("pending", "No answer within 1 s.")


def test_a_day_of_failures_disables_the_subscription_and_audits_it(subscribe, committed):
    receiver = Receiver()  # down
    subscription = subscribe(receiver, "server.assigned")
    with committed():
        publish("server.assigned", assigned())
    run_webhook_tasks()
    subscription.refresh_from_db()
    assert subscription.active and subscription.failing_since is not None

    Subscription.objects.filter(pk=subscription.pk).update(
        failing_since=timezone.now() - timedelta(hours=24, minutes=1)
    )
    come_due(Delivery.objects.get())
    deliveries.queue_due()
    run_webhook_tasks()

    subscription.refresh_from_db()
    assert not subscription.active
    assert "every delivery failed for 24 h" in subscription.disabled_reason
    audit = AuditEvent.objects.get(action="webhook.disabled")
    assert audit.target_id == str(subscription.pk)
    assert subscription.reveal_secret() not in str(audit.detail)
    with committed():
        publish("server.assigned", assigned())
    assert Event.objects.count() == 1  # a disabled subscription gets nothing new
    come_due(Delivery.objects.get())
    assert deliveries.queue_due() == 0  # nor its pending deliveries


def test_a_delivery_is_given_up_after_its_retry_window(subscribe, committed):
    receiver = Receiver()  # down
    subscribe(receiver, "server.assigned")
    with committed():
        publish("server.assigned", assigned())
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(retry_until=timezone.now())
    run_webhook_tasks()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)


def test_a_delivery_held_by_one_worker_is_not_sent_by_another(receiver, subscribe, committed):
    subscribe(receiver, "server.assigned")
    with committed():
        publish("server.assigned", assigned())
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    assert deliveries.send(delivery.pk) is None
    assert receiver.requests == []


def test_a_transaction_publishing_many_events_queues_a_task_per_batch(
    receiver, subscribe, committed
):
    subscribe(receiver)
    with committed():
        for number in range(deliveries.BATCH + 5):
            publish("server.assigned", assigned(number))
    assert run_webhook_tasks() == 2
    assert len(receiver.processed) == deliveries.BATCH + 5


def test_events_of_a_block_rolled_back_are_not_sent_and_the_others_are(
    receiver, subscribe, committed
):
    subscribe(receiver)
    with committed():
        publish("server.assigned", assigned(1))
        with pytest.raises(RuntimeError), transaction.atomic():
            publish("server.assigned", assigned(2))
            raise RuntimeError("the caller's work failed")
        publish("server.assigned", assigned(3))
    run_webhook_tasks()
    assert [event["data"]["server"]["id"] for event in receiver.processed] == [1, 3]
    assert Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == 2


def test_a_hanging_receiver_holds_a_worker_for_one_attempt_not_one_per_delivery(
    subscribe, committed, settings
):
    settings.PANEL_WEBHOOK_TIMEOUT = 1
    hanging = socket.socket()  # accepts connections, never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(50)
    receiver = Receiver()
    receiver.port = hanging.getsockname()[1]
    subscription = subscribe(receiver, "server.assigned")
    try:
        with committed():
            for number in range(10):
                publish("server.assigned", assigned(number))
        began = time.monotonic()
        run_webhook_tasks()
        took = time.monotonic() - began
    finally:
        hanging.close()
    assert took < 3  # one timed-out attempt, not ten
    subscription.refresh_from_db()
    assert subscription.paused_until > timezone.now()
    attempts = sorted(Delivery.objects.values_list("attempts", flat=True))
    assert attempts == [0] * 9 + [1]
    waiting = Delivery.objects.filter(attempts=0)
    assert all(row.next_attempt_at == subscription.paused_until for row in waiting)
    assert deliveries.queue_due() == 0  # the sweep leaves a paused receiver alone


def test_a_receiver_answering_again_is_unpaused(receiver, subscribe, committed):
    subscription = subscribe(receiver, "server.assigned")
    Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=3)
    with committed():
        publish("server.assigned", assigned())
    run_webhook_tasks()
    subscription.refresh_from_db()
    assert (subscription.consecutive_failures, subscription.paused_until) == (0, None)
