"""ISPsystem's list parameters as billing modules send them, and the server `state`
vocabulary computed from suspend and resume operations."""

import pytest

from inventory import services as inventory
from inventory.models import Server
from provisioning.models import Operation
from tests.factories import make_profile, make_server, make_user

pytestmark = pytest.mark.django_db


def names(answer) -> list[str]:
    assert answer.status_code == 200, answer.json()
    return [row["name"] for row in answer.json()["list"]]


@pytest.fixture
def fleet(admin, customer, racked_server):
    small = make_profile(name="e3-16gb")
    for name in ("db-1", "db-2", "db-3"):
        make_server(actor=admin, name=name, profile=small)
    return racked_server


@pytest.mark.parametrize(
    "where, expected",
    [
        # As a free-server finder sends it (URL-encoded spaces and +).
        ("(owner_email IS null) AND is_new EQ false", ["db-1", "db-2", "db-3"]),
        ("owner_email EQ 'owner@example.test'", ["web-1"]),
        ("owner_email IS NOT null", ["web-1"]),
        ("configuration EQ 'e3-16gb' AND NOT name EQ 'db-2'", ["db-1", "db-3"]),
        ("name CP 'db-%' AND (name EQ 'db-1' OR name EQ 'db-3')", ["db-1", "db-3"]),
        ("name CP 'WEB%'", ["web-1"]),
        ("state EQ 'ok' AND name NE 'web-1'", ["db-1", "db-2", "db-3"]),
        ("ip EQ '192.0.2.10'", ["web-1"]),
        ("ip CP '192.0.2.%'", ["web-1"]),
    ],
)
def test_where_filters_on_the_fields_billing_uses(staff_dci, fleet, where, expected):
    assert names(staff_dci.get("/api/dci/v3/server", QUERY_STRING=f"where={where}")) == expected


def test_where_on_owner_and_location_ids(staff_dci, fleet):
    owner, location = fleet.owner_id, fleet.rack.location_id
    answer = staff_dci.get(
        "/api/dci/v3/server", QUERY_STRING=f"where=owner EQ {owner} AND location_id EQ {location}"
    )
    assert names(answer) == ["web-1"]


def test_orderby_and_limit_page_the_list_and_size_counts_every_match(staff_dci, fleet):
    answer = staff_dci.get(
        "/api/dci/v3/server", QUERY_STRING="orderby=configuration asc,name desc&limit=1,2"
    )
    assert names(answer) == ["db-3", "db-2"]  # web-1 (cfg-…) sorts first
    assert answer.json()["size"] == 4


@pytest.mark.parametrize(
    "query, parameter, fragment",
    [
        ("where=serial EQ 'x'", "where", "Cannot filter on 'serial'"),
        ("where=name EQ", "where", "ends where a value"),
        ("where=name LIKE 'x'", "where", "Unknown comparison 'LIKE'"),
        ("where=(name EQ 'x'", "where", "ends where ) was expected"),
        ("where=owner EQ 'abc'", "where", "whole number"),
        ("where=state EQ 'broken'", "where", "takes one of suspending"),
        ("where=is_new EQ maybe", "where", "true or false"),
        ("orderby=ip asc", "orderby", "Cannot sort by 'ip'"),
        ("orderby=name sideways", "orderby", "asc or desc"),
        ("limit=0,0", "limit", "1 to 10000"),
        ("limit=a,b", "limit", "offset,count"),
        ("page=2", "page", "Unknown query parameter"),
    ],
)
def test_anything_else_is_a_clear_400(staff_dci, fleet, query, parameter, fragment):
    answer = staff_dci.get("/api/dci/v3/server", QUERY_STRING=query)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 400
    assert fragment in " ".join(error["value"][parameter])


def test_a_list_larger_than_the_limit_asks_to_be_paged(staff_dci, fleet, settings):
    settings.PANEL_DCI_LIST_MAX = 3
    answer = staff_dci.get("/api/dci/v3/server")
    assert answer.status_code == 400
    assert "4 rows match" in answer.json()["error"]["value"]["limit"][0]
    assert len(names(staff_dci.get("/api/dci/v3/server", QUERY_STRING="limit=0,3"))) == 3


def test_customers_filter_only_what_they_see(owner_dci, fleet):
    answer = owner_dci.get("/api/dci/v3/server", QUERY_STRING="where=owner_email IS null")
    assert names(answer) == []


def test_users_and_addresses_take_where_too(staff_dci, fleet):
    answer = staff_dci.get("/api/dci/v3/user", QUERY_STRING="where=email CP 'owner@%'")
    assert [row["email"] for row in answer.json()["list"]] == ["owner@example.test"]
    answer = staff_dci.get("/api/dci/v3/ip", QUERY_STRING="where=server EQ 'web-1'")
    assert [row["name"] for row in answer.json()["list"]] == ["192.0.2.10"]


def _port_operation(server, kind: str, state: str, error: str = ""):
    Operation.objects.create(server=server, kind=kind, state=state, error=error)


def state_of(staff_dci, server) -> tuple[str, str]:
    body = staff_dci.get(f"/api/dci/v3/server/{server.pk}").json()
    return body["state"], body["state_info"]


def test_the_state_follows_suspend_and_resume(staff_dci, racked_server):
    assert state_of(staff_dci, racked_server) == ("ok", "")
    staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/suspend")
    assert state_of(staff_dci, racked_server)[0] == "suspending"
    Operation.objects.update(state=Operation.State.SUCCEEDED)
    assert state_of(staff_dci, racked_server) == ("suspended", "")

    staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/resume")
    assert state_of(staff_dci, racked_server)[0] == "resuming"
    Operation.objects.filter(state=Operation.State.QUEUED).update(
        state=Operation.State.FAILED, error="Gi1/0/7 stayed down"
    )
    assert state_of(staff_dci, racked_server) == ("resume_error", "Gi1/0/7 stayed down")
    answer = staff_dci.get("/api/dci/v3/server", QUERY_STRING="where=state EQ 'resume_error'")
    assert names(answer) == ["web-1"]


def test_a_failed_suspend_is_a_suspend_error_and_a_power_operation_changes_nothing(
    staff_dci, racked_server
):
    Server.objects.filter(pk=racked_server.pk).update(suspended=True, suspend_reason="unpaid")
    _port_operation(racked_server, "suspend", "failed", "sw-1 did not answer")
    _port_operation(racked_server, "power_off", "succeeded")
    assert state_of(staff_dci, racked_server) == ("suspend_error", "sw-1 did not answer")
    _port_operation(racked_server, "suspend", "succeeded")
    assert state_of(staff_dci, racked_server) == ("suspended", "unpaid")


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("where=owner CP '2%'", "CP matches text"),
        ("where=location_id CP '1'", "CP matches text"),
        ("where=ip EQ 'foo'", "takes an IP address"),
        ("where=mac EQ 'zz'", "takes a MAC address"),
        ("where=" + "(" * 40 + "id EQ 1" + ")" * 40, "nests deeper than 32"),
        ("where=" + "NOT " * 1000 + "id EQ 1", "longer than 400"),
        ("where=" + "NOT " * 40 + "id EQ 1", "nests deeper than 32"),
        ("where=id EQ 1&where=id EQ 2", "once"),
    ],
)
def test_conditions_the_database_cannot_take_are_refused_not_500(staff_dci, fleet, query, fragment):
    answer = staff_dci.get("/api/dci/v3/server", QUERY_STRING=query)
    assert answer.status_code == 400
    assert fragment in " ".join(next(iter(answer.json()["error"]["value"].values())))


def test_addresses_and_macs_compare_in_any_spelling(staff_dci, fleet):
    upper = fleet.mac.upper().replace(":", "-")
    assert names(staff_dci.get("/api/dci/v3/server", QUERY_STRING=f"where=mac EQ '{upper}'")) == [
        "web-1"
    ]
    answer = staff_dci.get("/api/dci/v3/ip", QUERY_STRING="where=name EQ '192.0.2.10'")
    assert [row["server"] for row in answer.json()["list"]] == ["web-1"]


def test_a_new_owner_does_not_inherit_an_old_suspend_error(staff_dci, racked_server, admin):
    _port_operation(racked_server, "resume", "failed", "Gi1/0/7 stayed down")
    assert state_of(staff_dci, racked_server)[0] == "resume_error"
    inventory.release_owner(actor=admin, server=racked_server)
    inventory.assign_owner(actor=admin, server=racked_server, owner=make_user())
    assert state_of(staff_dci, racked_server) == ("ok", "")
