"""The operations admin: staff follow, cancel and retry the work they start."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from panel.models import AuditEvent
from provisioning import services
from provisioning.models import BootTicket, Operation, OperationEvent, OsTemplate
from tests.factories import ED25519, make_rack, make_server
from tests.pages import page_text as text

OPERATIONS = "/admin/provisioning/operation/"


def ended(server, kind="power_cycle", state="failed", **fields) -> Operation:
    fields.setdefault("params", {"action": "cycle"})
    return Operation.objects.create(
        server=server, kind=kind, state=state, finished_at=timezone.now(), **fields
    )


def make_operations(count: int, admin) -> None:
    rack = make_rack()
    servers = [make_server(actor=admin, rack=rack, unit=n + 1) for n in range(5)]
    for n in range(count):
        ended(servers[n % 5], requested_by=admin if n % 2 else None, state="failed")


LISTS = [
    "",
    "?state__exact=failed",
    "?kind__exact=power_cycle",
    "?requested_by=panel",
    "?created_at__gte=2020-01-01T00:00:00%2B00:00",
    "?q=srv",
    "?q=%231",
]


@pytest.mark.parametrize("query", LISTS)
def test_the_operation_list_takes_the_same_queries_at_any_size(staff, admin, query):
    make_operations(5, admin)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(OPERATIONS + query).status_code == 200
    make_operations(60, admin)
    with CaptureQueriesContext(connection) as many:
        assert staff.get(OPERATIONS + query).status_code == 200
    assert len(many) == len(few)


def test_the_operation_list_is_bounded_and_filters_by_server_and_location(
    staff, admin, django_assert_max_num_queries
):
    make_operations(30, admin)
    one = Operation.objects.first()
    location = one.server.rack.location_id
    for query in (f"?server={one.server_id}", f"?server__rack__location__id__exact={location}"):
        with django_assert_max_num_queries(12):
            page = staff.get(OPERATIONS + query)
        assert page.status_code == 200 and f"#{one.pk}" in text(page)


def test_the_count_of_a_huge_list_is_capped(staff, admin, monkeypatch):
    from panel.admin import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "CAP", 10)
    make_operations(25, admin)
    page = staff.get(OPERATIONS)
    assert page.context["cl"].result_count == 10


def test_search_by_number_finds_the_operation(staff, admin):
    make_operations(3, admin)
    op = Operation.objects.last()
    page = staff.get(OPERATIONS, {"q": f"#{op.pk}"})
    assert list(page.context["cl"].result_list) == [op]


def test_the_operation_page_shows_the_log_and_never_the_password_hash(staff, admin, customer, alma):
    server = make_server(actor=admin, owner=customer)
    op = services.start_install(
        actor=admin, server=server, template=alma, raid="raid_1", password="Correct-Horse-9"
    )
    OperationEvent.objects.create(operation=op, message="Boot device set to network.")
    page = staff.get(f"{OPERATIONS}{op.pk}/change/")
    shown = text(page)
    assert page.status_code == 200
    assert "Boot device set to network." in shown and "raid_1" in shown
    assert "password_hash" not in shown and op.params["password_hash"] not in shown
    assert "Cancel this operation" in shown
    assert f"#{op.pk} OS installation on {server.name} (queued)" in shown


def test_customers_cannot_open_the_operations_admin(client, customer, admin):
    op = ended(make_server(actor=admin, owner=customer))
    client.force_login(customer)
    for response in (
        client.get(OPERATIONS),
        client.post(f"{OPERATIONS}{op.pk}/retry/"),
    ):
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Operation.objects.count() == 1


def test_staff_cancel_a_queued_operation_from_its_page(staff, admin):
    op = Operation.objects.create(server=make_server(actor=admin), kind="power_on")
    page = staff.post(f"{OPERATIONS}{op.pk}/cancel/", follow=True)
    op.refresh_from_db()
    assert op.state == "cancelled"
    assert f"Cancel requested: operation #{op.pk}." in text(page)
    again = text(staff.post(f"{OPERATIONS}{op.pk}/cancel/", follow=True))
    assert f"Refused: #{op.pk}: Operation #{op.pk} has already ended (cancelled)." in again


def test_staff_retry_a_failed_operation_with_the_same_parameters(staff, admin):
    failed = ended(make_server(actor=admin), requested_by=admin)
    page = staff.post(OPERATIONS, {"action": "retry", "_selected_action": [failed.pk]}, follow=True)
    retried = Operation.objects.exclude(pk=failed.pk).get()
    assert (retried.kind, retried.params, retried.state) == (
        "power_cycle",
        {"action": "cycle"},
        "queued",
    )
    assert f"Started again as: operation #{retried.pk}." in text(page)
    assert f'href="/admin/provisioning/operation/{retried.pk}/change/"' in page.content.decode()
    event = AuditEvent.objects.get(action="operation.retry")
    assert event.detail == {"operation": retried.pk, "retry_of": failed.pk}


def test_an_active_operation_is_not_retried(staff, admin):
    running = Operation.objects.create(server=make_server(actor=admin), kind="power_on")
    page = staff.post(f"{OPERATIONS}{running.pk}/retry/", follow=True)
    assert "only a failed or cancelled operation is retried" in text(page)
    assert Operation.objects.count() == 1


def test_an_install_is_retried_with_its_keys_and_never_without_a_way_in(admin, customer, alma):
    server = make_server(actor=admin, owner=customer)
    with_keys = services.start_install(
        actor=admin, server=server, template=alma, raid="raid_1", ssh_key_texts=[ED25519]
    )
    services.cancel_operation(actor=admin, operation=with_keys)
    retried = services.retry_operation(
        actor=admin, operation=Operation.objects.get(pk=with_keys.pk)
    )
    assert retried.kind == "install" and retried.params["ssh_keys"] == with_keys.params["ssh_keys"]
    assert (
        retried.params["raid"] == "raid_1" and BootTicket.objects.filter(operation=retried).exists()
    )
    services.cancel_operation(actor=admin, operation=retried)

    password_only = services.start_install(
        actor=admin, server=server, template=alma, password="Correct-Horse-9"
    )
    services.cancel_operation(actor=admin, operation=password_only)
    with pytest.raises(services.Conflict, match="its root password is not kept"):
        services.retry_operation(actor=admin, operation=Operation.objects.get(pk=password_only.pk))


def test_a_customer_may_not_retry(customer, admin):
    op = ended(make_server(actor=admin, owner=customer))
    with pytest.raises(services.NotAllowed):
        services.retry_operation(actor=customer, operation=op)


def test_boot_tickets_are_read_only_and_never_show_the_secret(staff, admin, alma):
    op = services.start_install(
        actor=admin, server=make_server(actor=admin), template=alma, password="Correct-Horse-9"
    )
    ticket = BootTicket.objects.get(operation=op)
    BootTicket.objects.filter(pk=ticket.pk).update(secret_hash="f" * 64)
    listing = staff.get("/admin/provisioning/bootticket/")
    page = staff.get(f"/admin/provisioning/bootticket/{ticket.pk}/change/")
    assert listing.status_code == page.status_code == 200
    assert "f" * 64 not in page.content.decode() and ticket.mac in text(page)
    assert staff.post(f"/admin/provisioning/bootticket/{ticket.pk}/delete/").status_code == 403


def test_os_templates_are_listed_and_a_busy_one_is_not_deleted(staff, admin, alma):
    op = services.start_install(
        actor=admin, server=make_server(actor=admin), template=alma, password="Correct-Horse-9"
    )
    assert "AlmaLinux 9" in text(staff.get("/admin/provisioning/ostemplate/"))
    page = staff.post(
        f"/admin/provisioning/ostemplate/{alma.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert f"being installed by operation #{op.pk}" in text(page)
    assert OsTemplate.objects.filter(pk=alma.pk).exists()


def test_the_duration_of_a_running_operation_counts_from_its_start(staff, admin):
    started = timezone.now() - timedelta(minutes=5)
    Operation.objects.create(
        server=make_server(actor=admin), kind="install", state="running", started_at=started
    )
    page = text(staff.get(OPERATIONS))
    assert "5\xa0minutes" in page, page[-3000:]


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        (
            lambda admin, s: services.request_boot_device(actor=admin, server=s, device="pxe"),
            "set_bootdev",
        ),
        (
            lambda admin, s: services.start_diagnostics(actor=admin, server=s, wipe="simple"),
            "diagnostics",
        ),
        (lambda admin, s: services.start_wipe(actor=admin, server=s, mode="full"), "wipe"),
        (
            lambda admin, s: services.request_power(
                actor=admin, server=s, action="soft_off", timeout=30
            ),
            "soft_shutdown",
        ),
    ],
)
def test_each_kind_is_retried_through_its_own_service(admin, start, kind):
    original = start(admin, make_server(actor=admin))
    services.cancel_operation(actor=admin, operation=original)
    original.refresh_from_db()
    retried = services.retry_operation(actor=admin, operation=original)
    assert retried.kind == kind and retried.pk != original.pk
    assert retried.params == original.params_after_end()
