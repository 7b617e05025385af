"""The admin's webhook pages: the secret write-only, the delivery log read-only with
redelivery, and customers kept out."""

import pytest
from django.contrib.messages import get_messages

from panel.models import AuditEvent
from tests.webhooks.conftest import SECRET, run_webhook_tasks
from webhooks.events import publish
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db
SUBSCRIPTIONS = "/admin/webhooks/subscription/"
DELIVERIES = "/admin/webhooks/delivery/"


@pytest.fixture
def staff_browser(client, admin):
    client.force_login(admin)
    return client


def test_staff_add_a_webhook_in_the_admin_and_see_its_generated_secret_once(staff_browser):
    answer = staff_browser.post(
        f"{SUBSCRIPTIONS}add/",
        {
            "name": "WHMCS",
            "url": "https://billing.example.test/hooks",
            "event_types": ["server.assigned", "install.progress"],
            "active": "on",
            "secret": "",
        },
        follow=True,
    )
    assert answer.status_code == 200
    subscription = Subscription.objects.get()
    assert subscription.event_types == ["install.progress", "server.assigned"]
    secret = subscription.reveal_secret()
    shown = [str(message) for message in get_messages(answer.wsgi_request)]
    assert any(secret in message for message in shown)
    page = staff_browser.get(f"{SUBSCRIPTIONS}{subscription.pk}/change/").content.decode()
    assert secret not in page and subscription.secret_encrypted not in page
    assert AuditEvent.objects.filter(action="webhook.create").exists()


def test_leaving_the_secret_empty_in_the_admin_keeps_it(staff_browser, subscribe, receiver):
    subscription = subscribe(receiver)
    staff_browser.post(
        f"{SUBSCRIPTIONS}{subscription.pk}/change/",
        {"name": "renamed", "url": receiver.url, "active": "on", "secret": ""},
    )
    subscription.refresh_from_db()
    assert (subscription.name, subscription.reveal_secret()) == ("renamed", SECRET)


def test_the_delivery_log_is_read_only_and_redelivers(
    staff_browser, subscribe, receiver, committed
):
    subscribe(receiver)
    with committed():
        publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    run_webhook_tasks()
    delivery = Delivery.objects.get()
    listing = staff_browser.get(DELIVERIES)
    assert listing.status_code == 200 and b"server.assigned" in listing.content
    detail = staff_browser.get(f"{DELIVERIES}{delivery.pk}/change/")
    assert detail.status_code == 200 and b'name="status"' not in detail.content
    assert staff_browser.get(f"{DELIVERIES}add/").status_code == 403

    with committed():
        staff_browser.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})
    run_webhook_tasks()
    assert len(receiver.requests) == 2 and len(receiver.processed) == 1
    assert Delivery.objects.get().attempts == 2


def test_the_admin_pings_a_webhook(staff_browser, subscribe, receiver, committed):
    subscription = subscribe(receiver, "operation.failed")
    with committed():
        staff_browser.post(
            SUBSCRIPTIONS, {"action": "send_ping", "_selected_action": [subscription.pk]}
        )
    run_webhook_tasks()
    assert [event["type"] for event in receiver.processed] == ["ping"]


def test_customers_cannot_open_the_webhook_pages(client, customer):
    client.force_login(customer)
    for page in (SUBSCRIPTIONS, DELIVERIES):
        assert client.get(page).status_code == 302  # to the admin's login
