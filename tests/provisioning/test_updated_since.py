"""?updated_since= for a billing system's incremental sync: servers, operations, addresses and
users changed at or after a time, and only those."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import ipam
from inventory import services as inventory
from inventory.models import IpAddress, Server
from panel import services as people
from panel.models import User
from provisioning import services
from provisioning.models import Operation
from provisioning.tasks import run_operation
from tests.factories import make_pool, make_server, make_user

LISTS = ["/api/v1/servers/", "/api/v1/operations/", "/api/v1/ips/", "/api/v1/users/"]


def age_everything() -> str:
    """Make every row an hour old; the ISO time from which changes count."""
    hour_ago = timezone.now() - timedelta(hours=1)
    for model in (Server, Operation, IpAddress, User):
        model.objects.update(updated_at=hour_ago)
    return (timezone.now() - timedelta(seconds=1)).isoformat()


def changed(api, path, since) -> set[int]:
    response = api.get(path, {"updated_since": since})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("path", LISTS)
def test_anonymous_gets_401(anonymous_api, path):
    assert anonymous_api.get(path, {"updated_since": "2026-01-01T00:00:00Z"}).status_code == 401


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00Z", "1700000000", "2026-01"])
def test_a_malformed_time_is_a_400_naming_the_field(admin_api, path, since):
    response = admin_api.get(path, {"updated_since": since})
    assert response.status_code == 400
    assert list(response.json()) == ["updated_since"]


def test_a_server_changed_by_owner_name_or_addresses_is_listed_and_no_other(
    admin_api, admin, customer
):
    pool = make_pool()
    assigned, renamed, addressed, released, untouched = (make_server() for _ in range(5))
    gone = ipam.allocate_ip(actor=admin, server=released, pool=pool)
    since = age_everything()

    inventory.assign_owner(actor=admin, server=assigned, owner=customer)
    inventory.update_server(actor=admin, server=renamed, name="renamed-01")
    ipam.allocate_ip(actor=admin, server=addressed, pool=pool)
    ipam.release_ip(actor=admin, ip=gone)

    expected = {assigned.pk, renamed.pk, addressed.pk, released.pk}
    assert changed(admin_api, "/api/v1/servers/", since) == expected
    assert untouched.pk in changed(admin_api, "/api/v1/servers/", "2000-01-01T00:00:00Z")


def test_customers_see_only_their_own_changes(owner_api, other_api, admin, customer):
    mine = make_server(owner=customer)
    since = age_everything()
    inventory.update_server(actor=admin, server=mine, notes="rack B")
    assert changed(owner_api, "/api/v1/servers/", since) == {mine.pk}
    assert changed(other_api, "/api/v1/servers/", since) == set()


def test_the_time_is_inclusive(admin_api, free_server):
    free_server.refresh_from_db()
    assert changed(admin_api, "/api/v1/servers/", free_server.updated_at.isoformat()) == {
        free_server.pk
    }


def test_an_address_made_main_or_allocated_is_listed(admin_api, owner_api, admin, owned_server):
    pool = make_pool()
    old_main = ipam.allocate_ip(actor=admin, server=owned_server, pool=pool)
    make_server()
    since = age_everything()
    new_main = ipam.allocate_ip(actor=admin, server=owned_server, pool=pool, set_as_main=True)
    assert changed(admin_api, "/api/v1/ips/", since) == {old_main.pk, new_main.pk}
    assert changed(owner_api, "/api/v1/ips/", since) == {old_main.pk, new_main.pk}


def test_operations_queued_or_cancelled_since_are_listed(admin_api, owner_api, other_api, admin):
    customer = owner_api.user
    earlier = services.request_power(actor=admin, server=make_server(owner=customer), action="on")
    untouched = services.request_power(actor=admin, server=make_server(), action="on")
    since = age_everything()
    services.cancel_operation(actor=admin, operation=earlier)
    queued = services.request_power(actor=admin, server=make_server(owner=customer), action="off")
    assert changed(admin_api, "/api/v1/operations/", since) == {earlier.pk, queued.pk}
    assert changed(owner_api, "/api/v1/operations/", since) == {earlier.pk, queued.pk}
    assert changed(other_api, "/api/v1/operations/", since) == set()
    assert untouched.pk in changed(admin_api, "/api/v1/operations/", "2000-01-01T00:00:00Z")


def test_a_worker_running_an_operation_marks_it_changed_but_not_its_server(
    admin_api, lab_server, customer
):
    op = services.request_power(actor=customer, server=lab_server, action="on")
    since = age_everything()
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.state == "succeeded"
    assert changed(admin_api, "/api/v1/operations/", since) == {op.pk}
    # Power is read and driven through the BMC's row: not a change a billing system syncs.
    assert changed(admin_api, "/api/v1/servers/", since) == set()


def test_users_changed_or_deactivated_are_listed_but_not_signed_in(admin_api, admin, client):
    edited, closed, signed_in = (make_user() for _ in range(3))
    since = age_everything()
    people.update_user(actor=admin, user=edited, phone="+31 20 555")
    people.deactivate_user(actor=admin, user=closed)
    assert client.login(username=signed_in.email, password="a-long-test-password")
    assert changed(admin_api, "/api/v1/users/", since) == {edited.pk, closed.pk}


def test_customers_cannot_list_users_changed_since(owner_api):
    assert owner_api.get("/api/v1/users/?updated_since=2026-01-01T00:00:00Z").status_code == 403


@pytest.mark.parametrize("path", LISTS)
def test_a_sync_costs_a_bounded_number_of_queries(
    admin_api, admin, path, django_assert_max_num_queries
):
    pool = make_pool()
    for _ in range(8):
        server = make_server(owner=make_user())
        ipam.allocate_ip(actor=admin, server=server, pool=pool)
        services.request_power(actor=admin, server=server, action="on")
    with django_assert_max_num_queries(12):
        assert len(changed(admin_api, path, "2000-01-01T00:00:00Z")) >= 8
