"""PDUs and their outlets over the API: staff only, SNMP secrets write-only and encrypted."""

import pytest

from inventory.models import Pdu, PduOutlet
from panel.models import AuditEvent
from tests.factories import make_pdu, make_server

APC = {"name": "pdu-a1", "address": "192.0.2.31", "community": "pdu-private", "profile": "apc_rpdu"}
GENERIC = {
    **APC,
    "name": "pdu-g1",
    "profile": "generic",
    "control_oid": "1.3.6.1.4.1.99999.1.2",
    "on_value": 1,
    "off_value": 0,
}


@pytest.mark.parametrize("url", ["/api/v1/pdus/", "/api/v1/pdu-outlets/"])
def test_pdus_and_outlets_are_for_staff_only(anonymous_api, owner_api, other_api, url):
    assert anonymous_api.get(url).status_code == 401
    for customer in (owner_api, other_api):
        assert customer.get(url).status_code == 403
        assert customer.post(url, {}, format="json").status_code == 403


def test_customers_cannot_read_or_change_an_outlet(owner_api, owned_server):
    outlet = PduOutlet.objects.create(pdu=make_pdu(), number=1, server=owned_server)
    url = f"/api/v1/pdu-outlets/{outlet.pk}/"
    assert owner_api.get(url).status_code == 403
    assert owner_api.patch(url, {"server": None}, format="json").status_code == 403
    assert owner_api.delete(url).status_code == 403
    outlet.refresh_from_db()
    assert outlet.server == owned_server


def test_staff_add_an_apc_pdu_whose_community_is_never_returned(admin_api):
    response = admin_api.post("/api/v1/pdus/", APC, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "community" not in body and body["has_community"] is True
    assert (body["profile"], body["cycle_seconds"], body["outlet_count"]) == ("apc_rpdu", 5, 0)
    assert "pdu-private" not in response.content.decode()
    pdu = Pdu.objects.get(pk=body["id"])
    assert "pdu-private" not in pdu.community_encrypted
    assert pdu.reveal_secret("community") == "pdu-private"
    assert "pdu-private" not in str(AuditEvent.objects.get(action="pdu.create").detail)
    assert "pdu-private" not in admin_api.get("/api/v1/pdus/").content.decode()


def test_the_generic_profile_needs_its_oid_and_values(admin_api):
    assert admin_api.post("/api/v1/pdus/", GENERIC, format="json").status_code == 201
    incomplete = {**GENERIC, "name": "pdu-g2", "address": "192.0.2.32"}
    del incomplete["off_value"]
    response = admin_api.post("/api/v1/pdus/", {**incomplete, "control_oid": ""}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"control_oid", "off_value"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"control_oid": "abc"}, "control_oid"),  # was accepted, then a 500 at discovery
        ({"control_oid": "1.3.6.1."}, "control_oid"),
        ({"state_oid": "iso.3.6"}, "state_oid"),
        ({"on_value": 2**40}, "on_value"),  # beyond SNMP's INTEGER: a 500 when switching
        ({"off_value": 1}, "off_value"),  # the same as on: every read would say off
        ({"cycle_seconds": 3600}, "cycle_seconds"),  # the off time must fit one inline wait
    ],
)
def test_values_the_pdu_could_not_take_are_refused(admin_api, change, field):
    body = {**GENERIC, "name": "pdu-bad", "address": "192.0.2.33", **change}
    response = admin_api.post("/api/v1/pdus/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()


def test_unknown_fields_are_refused(admin_api):
    response = admin_api.post("/api/v1/pdus/", {**APC, "outlets": 8}, format="json")
    assert response.status_code == 400
    assert response.json() == {"outlets": ["Unknown field."]}


def test_staff_connect_both_power_supplies_of_a_server(admin_api, free_server):
    pdu_a, pdu_b = make_pdu(), make_pdu()
    for pdu in (pdu_a, pdu_b):
        created = admin_api.post(
            "/api/v1/pdu-outlets/",
            {"pdu": pdu.pk, "number": 4, "name": "psu", "server": free_server.pk},
            format="json",
        )
        assert created.status_code == 201, created.content
        assert created.json()["power_state"] == "unknown"
    assert free_server.pdu_outlets.count() == 2
    assert AuditEvent.objects.filter(action="pdu_outlet.connect").count() == 2
    listed = admin_api.get("/api/v1/pdu-outlets/", {"server": free_server.pk}).json()
    assert sorted(row["pdu_name"] for row in listed["results"]) == sorted([pdu_a.name, pdu_b.name])
    assert admin_api.get("/api/v1/pdu-outlets/", {"pdu": pdu_a.pk}).json()["count"] == 1


def test_an_outlet_feeding_another_server_is_a_409(admin_api, free_server):
    other = make_server()
    outlet = PduOutlet.objects.create(pdu=make_pdu(), number=2, server=other)
    url = f"/api/v1/pdu-outlets/{outlet.pk}/"
    response = admin_api.patch(url, {"server": free_server.pk}, format="json")
    assert response.status_code == 409
    assert other.name in response.json()["detail"]
    assert admin_api.patch(url, {"server": None}, format="json").status_code == 200
    moved = admin_api.patch(url, {"server": free_server.pk}, format="json")
    assert moved.status_code == 200 and moved.json()["server_name"] == free_server.name
    events = AuditEvent.objects.filter(action__startswith="pdu_outlet.").order_by("pk")
    actions = list(events.values_list("action", flat=True))
    assert actions == ["pdu_outlet.disconnect", "pdu_outlet.connect"]


@pytest.mark.parametrize("number", [0, 2, 2**40])
def test_outlet_numbers_are_positive_and_unique_per_pdu(admin_api, number):
    pdu = make_pdu()
    PduOutlet.objects.create(pdu=pdu, number=2)
    response = admin_api.post(
        "/api/v1/pdu-outlets/", {"pdu": pdu.pk, "number": number}, format="json"
    )
    assert response.status_code == 400
    assert "number" in response.json()


def test_staff_delete_a_pdu_and_an_outlet(admin_api):
    pdu = make_pdu()
    outlet = PduOutlet.objects.create(pdu=pdu, number=1)
    assert admin_api.delete(f"/api/v1/pdu-outlets/{outlet.pk}/").status_code == 204
    assert admin_api.delete(f"/api/v1/pdus/{pdu.pk}/").status_code == 204
    assert not Pdu.objects.exists()
    assert AuditEvent.objects.filter(action__in=["pdu_outlet.delete", "pdu.delete"]).count() == 2


def test_pdus_and_outlets_list_in_bounded_queries(admin_api, django_assert_max_num_queries):
    for _ in range(8):
        pdu = make_pdu()
        for number in range(1, 4):
            PduOutlet.objects.create(pdu=pdu, number=number, server=make_server())
    with django_assert_max_num_queries(6):
        pdus = admin_api.get("/api/v1/pdus/")
    with django_assert_max_num_queries(6):
        outlets = admin_api.get("/api/v1/pdu-outlets/")
    assert (pdus.json()["count"], outlets.json()["count"]) == (8, 24)
