import pytest

from inventory.models import Bmc, Server
from panel.models import AuditEvent
from tests.factories import make_profile, make_rack, make_server

ENROL = {
    "name": "ams-001",
    "mac": "AA-BB-CC-00-11-22",
    "serial": "SN123",
    "bmc": {"address": "10.0.0.5", "port": 623, "username": "ADMIN", "password": "s3cret-bmc"},
}


def enrol_payload(**overrides):
    payload = {**ENROL, "configuration": make_profile().name}
    payload.update(overrides)
    return payload


def test_anonymous_gets_401_on_servers(anonymous_api, owned_server):
    assert anonymous_api.get("/api/v1/servers/").status_code == 401
    assert anonymous_api.get(f"/api/v1/servers/{owned_server.pk}/").status_code == 401
    assert anonymous_api.post("/api/v1/servers/", {}, format="json").status_code == 401


def test_customer_lists_only_their_own_servers(
    owner_api, owned_server, free_server, other_customer
):
    make_server(owner=other_customer)
    response = owner_api.get("/api/v1/servers/")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["results"]] == [owned_server.pk]


def test_customer_cannot_see_another_customers_server(other_api, owned_server):
    assert other_api.get(f"/api/v1/servers/{owned_server.pk}/").status_code == 404


def test_owner_reads_their_server_without_bmc_secret(owner_api, owned_server):
    response = owner_api.get(f"/api/v1/servers/{owned_server.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["owner"]["email"] == "owner@example.test"
    assert body["bmc"]["power_state"] == "unknown"
    assert "password" not in body["bmc"]
    assert "bmc-secret" not in response.content.decode()


def test_admin_lists_every_server_in_bounded_queries(
    admin_api, django_assert_max_num_queries, customer
):
    for _ in range(15):
        make_server(owner=customer)
    with django_assert_max_num_queries(9):
        response = admin_api.get("/api/v1/servers/")
    assert response.json()["count"] == 15


def test_admin_enrols_a_server_with_its_bmc(admin_api):
    response = admin_api.post("/api/v1/servers/", enrol_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mac"] == "aa:bb:cc:00:11:22"
    assert body["bmc"] == {
        "address": "10.0.0.5",
        "port": 623,
        "username": "ADMIN",
        "interface": "lanplus",
        "power_state": "unknown",
        "power_state_read_at": None,
        "reachable": None,
        "last_seen": None,
    }
    bmc = Bmc.objects.get(server_id=body["id"])
    assert "s3cret-bmc" not in bmc.password_encrypted
    assert bmc.reveal_password() == "s3cret-bmc"
    event = AuditEvent.objects.get(action="server.enrol")
    assert event.actor.email == "staff@example.test"
    assert event.source_ip == "127.0.0.1"
    assert "s3cret-bmc" not in str(event.detail)


def test_enrolment_without_bmc_password_is_a_field_error(admin_api):
    payload = enrol_payload(bmc={"address": "10.0.0.5", "username": "ADMIN"})
    response = admin_api.post("/api/v1/servers/", payload, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["bmc"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mac": "not-a-mac"}, "mac"),
        ({"mac": "01:00:5e:00:00:01"}, "mac"),
        ({"configuration": "no-such-config"}, "configuration"),
        ({"bmc": {"address": "bad host!", "username": "u", "password": "p"}}, "bmc"),
        ({"bmc": {"address": "10.0.0.9", "port": 70000, "username": "u", "password": "p"}}, "bmc"),
        ({"unit": 3}, "rack"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_enrolment_input_is_a_400_with_field_errors(admin_api, overrides, field):
    response = admin_api.post("/api/v1/servers/", enrol_payload(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_two_servers_cannot_share_a_rack_unit_mac_or_bmc(admin_api):
    rack = make_rack(size_u=10)
    existing = make_server(rack=rack, unit=4)
    cases = [
        ({"rack": rack.pk, "unit": 4}, "unit"),
        ({"rack": rack.pk, "unit": 11}, "unit"),
        ({"mac": existing.mac.upper()}, "mac"),
        (
            {
                "bmc": {
                    "address": existing.bmc.address,
                    "port": existing.bmc.port,
                    "username": "a",
                    "password": "b",
                }
            },
            "bmc",
        ),
        ({"name": existing.name}, "name"),
    ]
    for overrides, field in cases:
        response = admin_api.post("/api/v1/servers/", enrol_payload(**overrides), format="json")
        assert response.status_code == 400, (overrides, response.content)
        assert field in response.json(), response.json()
        Server.objects.filter(name="ams-001").delete()


def test_customer_cannot_enrol_change_or_delete_servers(owner_api, owned_server):
    assert owner_api.post("/api/v1/servers/", enrol_payload(), format="json").status_code == 403
    url = f"/api/v1/servers/{owned_server.pk}/"
    assert owner_api.patch(url, {"name": "mine"}, format="json").status_code == 403
    assert owner_api.delete(url).status_code == 403


def test_other_customer_cannot_change_a_server(other_api, owned_server):
    url = f"/api/v1/servers/{owned_server.pk}/"
    assert other_api.patch(url, {"name": "theirs"}, format="json").status_code == 404
    assert Server.objects.get(pk=owned_server.pk).name == owned_server.name


def test_admin_patches_a_server_and_rotates_the_bmc_password(admin_api, free_server):
    url = f"/api/v1/servers/{free_server.pk}/"
    response = admin_api.patch(
        url, {"serial": "NEW-SN", "bmc": {"password": "rotated-pw", "port": 6230}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["serial"] == "NEW-SN"
    assert response.json()["bmc"]["port"] == 6230
    bmc = Bmc.objects.get(server=free_server)
    assert bmc.reveal_password() == "rotated-pw"
    event = AuditEvent.objects.filter(action="server.update").latest("id")
    assert set(event.detail["changed"]) == {"serial", "bmc.port", "bmc.password"}


def test_patch_keeps_the_bmc_password_when_none_is_given(admin_api, free_server):
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", {"bmc": {"username": "root"}}, format="json"
    )
    assert response.status_code == 200
    assert Bmc.objects.get(server=free_server).reveal_password() == "bmc-secret"


def test_admin_deletes_a_free_server_but_not_an_owned_one(admin_api, free_server, owned_server):
    assert admin_api.delete(f"/api/v1/servers/{owned_server.pk}/").status_code == 409
    assert admin_api.delete(f"/api/v1/servers/{free_server.pk}/").status_code == 204
    assert not Server.objects.filter(pk=free_server.pk).exists()
    assert AuditEvent.objects.filter(action="server.delete", target_id=str(free_server.pk)).exists()


def test_server_list_filters(admin_api, owned_server, free_server):
    def ids(query):
        return [s["id"] for s in admin_api.get(f"/api/v1/servers/?{query}").json()["results"]]

    assert ids("free=true") == [free_server.pk]
    assert ids(f"owner={owned_server.owner_id}") == [owned_server.pk]
    assert ids(f"configuration={free_server.profile.name}") == [free_server.pk]
    assert ids(f"search={owned_server.name}") == [owned_server.pk]
    assert admin_api.get("/api/v1/servers/?state=bogus").status_code == 400
