"""/api/v1/webhooks/: staff only; the secret write-only (generated and shown once when not
given); the delivery log filtered; redelivery and a test ping queue real deliveries."""

import pytest

from panel.models import AuditEvent
from tests.webhooks.conftest import SECRET, run_webhook_tasks
from webhooks.events import publish
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhooks/"


def test_anonymous_gets_401(anonymous_api):
    assert anonymous_api.get(BASE).status_code == 401
    assert anonymous_api.post(BASE, {"name": "x", "url": "https://x.test/"}).status_code == 401


def test_customers_are_refused_every_webhook_endpoint(
    owner_api, other_api, admin, subscribe, receiver
):
    subscription = subscribe(receiver)
    publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    delivery = Delivery.objects.get()
    for api in (owner_api, other_api):
        assert api.get(BASE).status_code == 403
        assert api.get(f"{BASE}{subscription.pk}/").status_code == 403
        assert api.post(BASE, {"name": "x", "url": "https://x.test/"}).status_code == 403
        assert api.patch(f"{BASE}{subscription.pk}/", {"active": False}).status_code == 403
        assert api.delete(f"{BASE}{subscription.pk}/").status_code == 403
        assert api.post(f"{BASE}{subscription.pk}/ping/").status_code == 403
        deliveries = f"{BASE}{subscription.pk}/deliveries/"
        assert api.get(deliveries).status_code == 403
        assert api.post(f"{deliveries}{delivery.pk}/redeliver/").status_code == 403
    assert Subscription.objects.get().active
    assert Delivery.objects.get().attempts == 0


def test_staff_create_a_webhook_and_get_its_generated_secret_once(admin_api):
    answer = admin_api.post(
        BASE,
        {"name": "WHMCS", "url": "https://billing.example.test/hooks", "event_types": []},
    )
    assert answer.status_code == 201, answer.content
    secret = answer.json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    subscription = Subscription.objects.get()
    assert subscription.reveal_secret() == secret
    assert secret not in subscription.secret_encrypted  # encrypted at rest
    shown = admin_api.get(f"{BASE}{subscription.pk}/").json()
    assert "secret" not in shown
    assert secret not in str(admin_api.get(BASE).json())
    audit = AuditEvent.objects.get(action="webhook.create")
    assert secret not in str(audit.detail)


def test_a_secret_given_on_create_is_kept_and_never_returned(admin_api):
    answer = admin_api.post(
        BASE,
        {
            "name": "billing",
            "url": "https://billing.example.test/hooks",
            "event_types": ["server.assigned", "install.progress"],
            "secret": SECRET,
        },
    )
    assert answer.status_code == 201
    assert answer.json()["secret"] == SECRET  # the answer to the create only
    assert answer.json()["event_types"] == ["install.progress", "server.assigned"]
    assert Subscription.objects.get().reveal_secret() == SECRET


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["server.sold"]}, "event_types"),
        ({"url": "ftp://billing.example.test/"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_webhooks_are_a_400_naming_the_field(admin_api, body, field):
    answer = admin_api.post(
        BASE, {"name": "billing", "url": "https://billing.example.test/", **body}
    )
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Subscription.objects.exists()


def test_staff_change_rotate_and_delete_a_webhook(admin_api, subscribe, receiver):
    subscription = subscribe(receiver)
    answer = admin_api.patch(
        f"{BASE}{subscription.pk}/",
        {"event_types": ["operation.failed"], "secret": "whsec_a-new-secret-for-it"},
    )
    assert answer.status_code == 200, answer.content
    assert "secret" not in answer.json()
    subscription.refresh_from_db()
    assert subscription.event_types == ["operation.failed"]
    assert subscription.reveal_secret() == "whsec_a-new-secret-for-it"
    audit = AuditEvent.objects.get(action="webhook.update")
    assert audit.detail == {"fields": ["event_types", "secret"]}

    assert admin_api.delete(f"{BASE}{subscription.pk}/").status_code == 204
    assert not Subscription.objects.exists()


def test_enabling_a_disabled_webhook_forgets_its_failures(admin_api, subscribe, receiver):
    subscription = subscribe(receiver)
    Subscription.objects.update(
        active=False, disabled_reason="Disabled automatically", failing_since="2026-01-01T00:00Z"
    )
    answer = admin_api.patch(f"{BASE}{subscription.pk}/", {"active": True})
    assert answer.status_code == 200
    assert (answer.json()["disabled_reason"], answer.json()["failing_since"]) == ("", None)


def test_staff_list_webhooks_in_bounded_queries(
    admin_api, subscribe, receiver, django_assert_max_num_queries
):
    for number in range(5):
        subscribe(receiver, name=f"billing {number}")
    with django_assert_max_num_queries(4):
        answer = admin_api.get(BASE)
    assert answer.json()["count"] == 5


def test_the_delivery_log_lists_filters_and_is_bounded_in_queries(
    admin_api, subscribe, receiver, committed, django_assert_max_num_queries
):
    subscription = subscribe(receiver)
    receiver.answers = [500]
    with committed():
        for number in range(6):
            publish("server.assigned", {"server": {"id": number, "name": f"srv-{number}"}})
        publish("operation.failed", {"operation": {"id": 9}})
    run_webhook_tasks()
    url = f"{BASE}{subscription.pk}/deliveries/"

    with django_assert_max_num_queries(5):
        answer = admin_api.get(url)
    assert answer.status_code == 200
    assert answer.json()["count"] == 7
    row = answer.json()["results"][0]
    assert set(row) >= {"status", "response_code", "attempts", "last_error", "last_attempt_at"}
    assert row["body"]["id"] == row["event_id"]

    failed = admin_api.get(url, {"status": "pending"}).json()
    assert failed["count"] == 1 and failed["results"][0]["response_code"] == 500
    assert admin_api.get(url, {"status": "delivered"}).json()["count"] == 6
    only = admin_api.get(url, {"event_type": "operation.failed"}).json()
    assert [row["event_type"] for row in only["results"]] == ["operation.failed"]
    assert admin_api.get(url, {"event_type": "nonsense"}).status_code == 400
    assert admin_api.get(url, {"colour": "blue"}).status_code == 400
    assert admin_api.get(f"{BASE}999999/deliveries/").status_code == 404


def test_staff_redeliver_a_delivery_through_the_api(admin_api, subscribe, receiver, committed):
    subscription = subscribe(receiver)
    with committed():
        publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    run_webhook_tasks()
    delivery = Delivery.objects.get()

    with committed():
        answer = admin_api.post(f"{BASE}{subscription.pk}/deliveries/{delivery.pk}/redeliver/")
    assert answer.status_code == 202
    assert answer.json() == {"id": delivery.pk, "status": "pending"}
    run_webhook_tasks()

    assert len(receiver.requests) == 2 and len(receiver.processed) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert AuditEvent.objects.filter(action="webhook.redeliver").count() == 1


def test_a_delivery_of_a_disabled_webhook_cannot_be_redelivered(admin_api, subscribe, receiver):
    subscription = subscribe(receiver)
    publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    Subscription.objects.update(active=False)
    delivery = Delivery.objects.get()
    answer = admin_api.post(f"{BASE}{subscription.pk}/deliveries/{delivery.pk}/redeliver/")
    assert answer.status_code == 409
    assert "disabled" in answer.json()["detail"]


def test_a_delivery_is_found_only_under_its_own_webhook(admin_api, subscribe, receiver):
    first = subscribe(receiver, name="first")
    second = subscribe(receiver, "operation.failed", name="second")
    publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    delivery = Delivery.objects.get(subscription=first)
    assert admin_api.get(f"{BASE}{second.pk}/deliveries/{delivery.pk}/").status_code == 404
    answer = admin_api.post(f"{BASE}{second.pk}/deliveries/{delivery.pk}/redeliver/")
    assert answer.status_code == 404


def test_a_ping_reaches_the_receiver_signed(admin_api, subscribe, receiver, committed):
    subscription = subscribe(receiver, "operation.failed")
    with committed():
        answer = admin_api.post(f"{BASE}{subscription.pk}/ping/")
    assert answer.status_code == 202
    run_webhook_tasks()
    (event,) = receiver.processed
    assert event["type"] == "ping" and event["data"] == {"webhook": subscription.pk}
    assert receiver.requests[0]["valid"]
