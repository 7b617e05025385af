"""The staff's admin lists cost the same queries at 10 rows and at 200, and their filters on
relations with many rows (owners, racks, servers) list none of those rows but the chosen one."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import ipam
from inventory.models import IpPool, Rack
from panel import audit
from panel.models import AuditEvent
from provisioning.models import Operation
from tests.factories import make_pool, make_rack, make_server, make_user
from webhooks.models import Delivery, Event, Subscription

SERVERS = "/admin/inventory/server/"
OPERATIONS = "/admin/provisioning/operation/"
AUDIT = "/admin/panel/auditevent/"
DELIVERIES = "/admin/webhooks/delivery/"


def grow(size: int, admin) -> None:
    """Each row count to `size`: servers (each in its own rack, owned by its own customer,
    with an address and an operation), audit events, webhook deliveries."""
    pool = IpPool.objects.first() or make_pool(
        cidr="10.30.0.0/16", first="10.30.0.1", last="10.30.255.254"
    )
    hook = Subscription.objects.first() or Subscription.objects.create(
        name="billing", url="https://billing.example.test/"
    )
    for n in range(Rack.objects.count(), size):
        server = make_server(actor=admin, owner=make_user(), rack=make_rack(), unit=1)
        ipam.allocate_ip(actor=admin, server=server, pool=pool)
        Operation.objects.create(server=server, kind="install", state="failed")
        audit.record(actor=admin, action=f"test.action{n % 7}", target=server)
        event = Event.objects.create(type=f"server.kind{n % 5}", data={})
        Delivery.objects.create(subscription=hook, event=event, retry_until=event.created_at)


def queries(staff, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = staff.get(path)
    assert response.status_code == 200, path
    return len(captured)


@pytest.mark.django_db
def test_the_admin_lists_cost_the_same_queries_for_10_rows_and_200(staff, admin):
    grow(10, admin)
    server = Operation.objects.first().server
    lists = [
        SERVERS,
        f"{SERVERS}?state__exact=ready",
        f"{SERVERS}?owner={server.owner_id}",
        f"{SERVERS}?owner=none",
        f"{SERVERS}?rack={server.rack_id}",
        f"{SERVERS}?rack__location__id__exact={server.rack.location_id}",
        f"{SERVERS}?q={server.name}",
        OPERATIONS,
        f"{OPERATIONS}?server={server.pk}",
        f"{OPERATIONS}?state__exact=failed",
        AUDIT,
        f"{AUDIT}?action=test.action1",
        DELIVERIES,
        f"{DELIVERIES}?event__type=server.kind1",
    ]
    small = {path: queries(staff, path) for path in lists}
    grow(200, admin)
    assert {path: queries(staff, path) for path in lists} == small


@pytest.mark.django_db
def test_owner_and_rack_filters_list_only_the_chosen_one(staff, admin):
    grow(3, admin)
    owned, other, _ = (operation.server for operation in Operation.objects.order_by("pk"))
    free = make_server(actor=admin, name="free-1")

    everyone = staff.get(SERVERS)
    assert _choices(everyone, "owner") == ["All", "No owner"]
    assert _choices(everyone, "rack") == ["All"]
    chosen = staff.get(SERVERS, {"owner": owned.owner_id})
    assert _names(chosen) == [owned.name]
    assert _choices(chosen, "owner") == ["All", "No owner", owned.owner.email]
    assert _names(staff.get(SERVERS, {"owner": "none"})) == [free.name]
    in_rack = staff.get(SERVERS, {"rack": other.rack_id})
    assert _names(in_rack) == [other.name]
    assert _choices(in_rack, "rack") == ["All", str(other.rack)]


@pytest.mark.django_db
def test_the_server_search_is_a_name_prefix_or_an_exact_address_mac_serial_bmc_or_owner(
    staff, admin, customer
):
    web = make_server(
        actor=admin,
        name="web-frankfurt-1",
        mac="02:00:00:aa:00:01",
        serial="SN-4711",
        owner=customer,
        bmc={"address": "10.9.8.7", "username": "admin", "password": "password"},
    )
    make_server(actor=admin, name="db-frankfurt-1")
    address = ipam.allocate_ip(actor=admin, server=web, pool=make_pool()).address

    def found(term: str) -> list[str]:
        return _names(staff.get(SERVERS, {"q": term}))

    assert found("WEB-fr") == ["web-frankfurt-1"]
    assert found("frankfurt") == []
    assert found(address) == ["web-frankfurt-1"]
    assert found("02-00-00-AA-00-01") == ["web-frankfurt-1"]
    assert found("SN-4711") == found("10.9.8.7") == ["web-frankfurt-1"]
    assert found(customer.email.upper()) == ["web-frankfurt-1"]
    assert found("SN-47") == found("10.9.8") == []  # exact, as indexes serve them


@pytest.mark.django_db
def test_the_action_and_event_type_filters_list_each_value_once(staff, admin):
    grow(12, admin)
    actions = staff.get(AUDIT).context["cl"].filter_specs[1].lookup_choices
    assert actions == sorted(set(AuditEvent.objects.values_list("action", flat=True)))
    assert {f"test.action{n}" for n in range(7)} <= set(actions)
    types = staff.get(DELIVERIES).context["cl"].filter_specs[1].lookup_choices
    assert types == sorted(set(Event.objects.values_list("type", flat=True)))
    assert {f"server.kind{n}" for n in range(5)} <= set(types)
    assert (
        len(staff.get(DELIVERIES, {"event__type": "server.kind1"}).context["cl"].result_list) == 3
    )


def _names(page) -> list[str]:
    return [server.name for server in page.context["cl"].result_list]


def _choices(page, title: str) -> list[str]:
    changelist = page.context["cl"]
    (spec,) = [spec for spec in changelist.filter_specs if spec.title == title]
    return [str(choice["display"]) for choice in spec.choices(changelist)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [{"owner": "9" * 20}, {"rack": "9" * 20}, {"q": "#" + "9" * 20}, {"requested_by": "9" * 20}],
)
def test_a_typed_id_past_the_database_s_ids_finds_nothing_rather_than_a_500(staff, query):
    url = SERVERS if set(query) & {"owner", "rack"} else OPERATIONS
    answer = staff.get(url, query)
    assert answer.status_code == 200
    assert list(answer.context["cl"].result_list) == []
