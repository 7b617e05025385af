"""The panel's own services publish what billing needs, to subscriptions that take it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services as inventory
from inventory.models import Bmc
from provisioning import powersync
from provisioning import services as provisioning
from provisioning.models import Operation
from provisioning.tasks import run_operation
from tests.factories import make_server
from tests.provisioning.test_boot_event_bodies import events_url  # noqa: F401 - a fixture
from tests.webhooks.conftest import Receiver, run_webhook_tasks
from webhooks.events import publish
from webhooks.models import Delivery, Event, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_bmc_timeouts(settings):
    settings.PANEL_BMC_TIMEOUT = 2
    settings.PANEL_POWER_CONFIRM_SECONDS = 5


def people(server, owner):
    return {
        "server": {"id": server.pk, "name": server.name},
        "owner": {"id": owner.pk, "email": owner.email} if owner else None,
    }


def test_publishing_without_subscribers_costs_one_query_and_stores_nothing(db):
    with CaptureQueriesContext(connection) as queries:
        publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    assert len(queries) == 1
    assert not Event.objects.exists()


def test_an_unknown_event_type_is_a_programming_error(db):
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        publish("server.sold", {})


def test_assigning_and_releasing_a_server_tells_billing_who_had_it(
    receiver, subscribe, committed, admin, customer, free_server
):
    subscribe(receiver)
    with committed():
        inventory.assign_owner(actor=admin, server=free_server, owner=customer)
    with committed():
        inventory.release_owner(actor=admin, server=free_server)
    run_webhook_tasks()

    assert [(event["type"], event["data"]) for event in receiver.processed] == [
        ("server.assigned", people(free_server, customer)),
        ("server.released", people(free_server, customer)),
    ]


def test_only_the_event_types_a_subscription_names_reach_it(
    receiver, subscribe, committed, admin, customer, free_server
):
    subscribe(receiver, "server.released")
    with committed():
        inventory.assign_owner(actor=admin, server=free_server, owner=customer)
        inventory.release_owner(actor=admin, server=free_server)
    run_webhook_tasks()
    assert [event["type"] for event in receiver.processed] == ["server.released"]


def test_cancelling_a_queued_operation_is_announced(
    receiver, subscribe, committed, admin, customer
):
    subscribe(receiver, "operation.cancelled")
    server = make_server(owner=customer)
    op = provisioning.request_power(actor=admin, server=server, action="on")
    with committed():
        provisioning.cancel_operation(actor=customer, operation=op)
    run_webhook_tasks()

    (event,) = receiver.processed
    assert event["data"]["operation"]["id"] == op.pk
    assert event["data"]["operation"]["kind"] == "power_on"
    assert event["data"]["operation"]["state"] == "cancelled"
    assert "Cancelled by" in event["data"]["operation"]["error"]
    assert event["data"]["owner"] == {"id": customer.pk, "email": customer.email}


def test_an_operation_a_worker_finishes_is_announced_with_its_outcome(
    receiver, subscribe, committed, admin, customer, lab_server, simlab
):
    subscribe(receiver)
    op = provisioning.request_power(actor=customer, server=lab_server, action="on")
    with committed():
        run_operation(op.pk)
    run_webhook_tasks()

    op.refresh_from_db()
    assert op.state == Operation.State.SUCCEEDED, op.error
    (event,) = receiver.events("operation.succeeded")
    assert event["data"] == {
        **people(lab_server, customer),
        "operation": {
            "id": op.pk,
            "kind": "power_on",
            "state": "succeeded",
            "error": "",
            "requested_by": customer.pk,
            "finished_at": op.finished_at.isoformat(),
        },
    }


def test_a_power_drift_the_sweep_finds_is_announced(
    receiver, subscribe, committed, lab_server, simlab, customer
):
    subscribe(receiver, "server.power_drift")
    powersync.sweep()
    simlab.change(lab_server.lab_port, power="on")
    Bmc.objects.update(next_poll_at=None)
    with committed():
        powersync.sweep()
    run_webhook_tasks()
    (event,) = receiver.processed
    assert event["data"] == {**people(lab_server, customer), "previous": "off", "observed": "on"}


def test_a_bmc_going_silent_and_coming_back_is_announced_once_each_way(
    receiver, subscribe, committed, lab_server, simlab
):
    subscribe(receiver, "bmc.unreachable", "bmc.reachable")
    powersync.sweep()  # first contact: reachable, nothing to tell
    simlab.change(lab_server.lab_port, silent=True)
    for _ in range(3):  # the second failure marks it unreachable; the third changes nothing
        Bmc.objects.update(next_poll_at=None)
        with committed():
            powersync.sweep()
    simlab.change(lab_server.lab_port, silent=False)
    for _ in range(2):
        Bmc.objects.update(next_poll_at=None)
        with committed():
            powersync.sweep()
    run_webhook_tasks()

    assert [event["type"] for event in receiver.processed] == ["bmc.unreachable", "bmc.reachable"]
    unreachable = receiver.processed[0]["data"]
    assert unreachable["server"]["id"] == lab_server.pk
    assert unreachable["bmc"]["port"] == lab_server.lab_port
    assert "password" not in str(receiver.processed)


def test_install_progress_goes_only_to_subscriptions_that_ask_for_it(
    subscribe,
    committed,
    client,
    events_url,  # noqa: F811 - the fixture imported above
    lab_server,
):
    everything, opted_in = Receiver().start(), Receiver().start()
    try:
        subscribe(everything, name="every event")
        subscribe(opted_in, "install.progress", name="progress")
        with committed():
            answer = client.post(
                events_url,
                {"event": "progress", "progress": 40, "message": "Partitioning"},
                content_type="application/json",
            )
        assert answer.status_code == 202, answer.content
        run_webhook_tasks()
    finally:
        everything.stop()
        opted_in.stop()

    assert everything.processed == []
    (event,) = opted_in.processed
    assert event["type"] == "install.progress"
    assert (event["data"]["progress"], event["data"]["message"]) == (40, "Partitioning")
    assert event["data"]["server"]["id"] == lab_server.pk
    assert event["data"]["operation"]["kind"] == "diagnostics"
    assert events_url.rsplit("/", 1)[1] not in str(event)  # the boot ticket stays secret
    assert Delivery.objects.count() == 1


@pytest.mark.e2e
def test_a_suspension_is_announced_with_its_reason_once_the_switch_port_is_down(
    receiver, subscribe, committed, admin_api, cabled_server, customer
):
    subscribe(receiver, "server.suspended", "server.resumed")
    url = f"/api/v1/servers/{cabled_server.pk}/"
    with committed():
        suspend = admin_api.post(f"{url}suspend/", {"reason": "Invoice 1234 unpaid"})
    assert run_webhook_tasks() == 0  # requested is not done: nothing yet
    with committed():
        run_operation(suspend.json()["task"])
        resume = admin_api.post(f"{url}resume/", {})
        run_operation(resume.json()["task"])
    run_webhook_tasks()

    assert [(event["type"], event["data"]) for event in receiver.processed] == [
        (
            "server.suspended",
            {
                **people(cabled_server, customer),
                "reason": "Invoice 1234 unpaid",
                "operation": suspend.json()["task"],
            },
        ),
        (
            "server.resumed",
            {**people(cabled_server, customer), "reason": "", "operation": resume.json()["task"]},
        ),
    ]


def test_a_subscription_changed_elsewhere_counts_from_the_next_event(
    receiver, subscribe, committed
):
    """No process keeps its own copy of the subscriptions: a change another process commits
    (here a bare UPDATE, not this process's services) applies to the very next event."""
    subscription = subscribe(receiver, "server.assigned")
    Subscription.objects.filter(pk=subscription.pk).update(active=False)
    with committed():
        publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
    assert not Event.objects.exists()

    Subscription.objects.filter(pk=subscription.pk).update(
        active=True, event_types=["server.released"]
    )
    with committed():
        publish("server.assigned", {"server": {"id": 1, "name": "srv-1"}})
        publish("server.released", {"server": {"id": 1, "name": "srv-1"}})
    run_webhook_tasks()
    assert [event["type"] for event in receiver.processed] == ["server.released"]
