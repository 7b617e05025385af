"""Switches and their ports over the API: staff only, SNMP secrets write-only and encrypted."""

import pytest

from inventory.models import Switch, SwitchPort
from panel.models import AuditEvent
from tests.factories import make_server, make_switch

V2C = {"name": "sw-a1", "address": "192.0.2.21", "snmp_version": "2c", "community": "s3cret-comm"}
V3 = {
    "name": "sw-a2",
    "address": "sw-a2.mgmt.example",
    "snmp_version": "3",
    "username": "panel",
    "auth_protocol": "sha256",
    "auth_key": "auth-passphrase",
    "priv_protocol": "aes",
    "priv_key": "priv-passphrase",
}
SECRETS = ("s3cret-comm", "auth-passphrase", "priv-passphrase")


def assert_no_secret(text: str) -> None:
    assert not [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("url", ["/api/v1/switches/", "/api/v1/switch-ports/"])
def test_switches_and_ports_are_for_staff_only(anonymous_api, owner_api, other_api, url):
    assert anonymous_api.get(url).status_code == 401
    assert anonymous_api.post(url, {}, format="json").status_code == 401
    for customer in (owner_api, other_api):
        assert customer.get(url).status_code == 403
        assert customer.post(url, {}, format="json").status_code == 403


def test_customers_cannot_read_change_or_delete_one_switch(owner_api, anonymous_api, admin):
    switch = make_switch()
    url = f"/api/v1/switches/{switch.pk}/"
    assert anonymous_api.get(url).status_code == 401
    assert owner_api.get(url).status_code == 403
    assert owner_api.patch(url, {"name": "x"}, format="json").status_code == 403
    assert owner_api.delete(url).status_code == 403
    assert Switch.objects.filter(pk=switch.pk, name=switch.name).exists()


def test_staff_add_a_v2c_switch_whose_community_is_stored_encrypted_and_never_returned(
    admin_api,
):
    response = admin_api.post("/api/v1/switches/", V2C, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "community" not in body
    assert (body["has_community"], body["has_auth_key"], body["has_priv_key"]) == (
        True,
        False,
        False,
    )
    assert (body["port"], body["reachable"], body["port_count"]) == (161, None, 0)
    assert_no_secret(response.content.decode())
    switch = Switch.objects.get(pk=body["id"])
    assert switch.community_encrypted and "s3cret-comm" not in switch.community_encrypted
    assert switch.reveal_secret("community") == "s3cret-comm"
    event = AuditEvent.objects.get(action="switch.create")
    assert event.detail["secrets"] == ["community"]
    assert_no_secret(str(event.detail))
    assert_no_secret(admin_api.get(f"/api/v1/switches/{switch.pk}/").content.decode())
    assert_no_secret(admin_api.get("/api/v1/switches/").content.decode())
    assert_no_secret(admin_api.get("/api/v1/audit-events/").content.decode())


def test_staff_add_a_v3_switch_with_auth_and_privacy(admin_api):
    response = admin_api.post("/api/v1/switches/", V3, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"auth_key", "priv_key"}.isdisjoint(body)
    assert (body["has_auth_key"], body["has_priv_key"]) == (True, True)
    assert_no_secret(response.content.decode())
    switch = Switch.objects.get(pk=body["id"])
    assert switch.reveal_secret("auth_key") == "auth-passphrase"
    assert "priv-passphrase" not in switch.priv_key_encrypted


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**V2C, "community": ""}, "community"),
        ({k: v for k, v in V2C.items() if k != "community"}, "community"),
        ({**V3, "username": ""}, "username"),
        ({**V3, "auth_key": "short"}, "auth_key"),
        ({**V3, "priv_key": "1234567"}, "priv_key"),
        ({**V3, "auth_protocol": "", "auth_key": ""}, "auth_protocol"),
        ({**V3, "priv_protocol": ""}, "priv_protocol"),
        ({k: v for k, v in V3.items() if k != "auth_key"}, "auth_key"),
        ({**V2C, "address": "not an address!"}, "address"),
        ({**V2C, "port": 70000}, "port"),
        ({**V2C, "snmp_version": "1"}, "snmp_version"),
    ],
)
def test_incomplete_or_invalid_credentials_are_field_errors(admin_api, payload, field):
    response = admin_api.post("/api/v1/switches/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Switch.objects.exists()


def test_unknown_and_read_only_fields_are_refused(admin_api):
    response = admin_api.post(
        "/api/v1/switches/", {**V2C, "password": "x", "reachable": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "password": ["Unknown field."],
        "reachable": ["This field is read-only."],
    }


def test_two_switches_cannot_share_a_name_or_an_address(admin_api):
    taken = make_switch(address="192.0.2.21", port=161)
    response = admin_api.post("/api/v1/switches/", {**V2C, "name": taken.name}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "address"}
    assert response.json()["address"] == [f"192.0.2.21:161 is already {taken.name}."]


def test_a_patch_without_secrets_keeps_them_and_an_empty_one_clears_it(admin_api):
    switch = Switch.objects.get(
        pk=admin_api.post("/api/v1/switches/", V3, format="json").json()["id"]
    )
    url = f"/api/v1/switches/{switch.pk}/"
    kept = admin_api.patch(url, {"notes": "row 4"}, format="json")
    assert kept.status_code == 200 and kept.json()["has_priv_key"] is True
    cleared = admin_api.patch(url, {"priv_key": "", "priv_protocol": ""}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert (cleared.json()["has_auth_key"], cleared.json()["has_priv_key"]) == (True, False)
    switch.refresh_from_db()
    assert switch.priv_key_encrypted == "" and switch.reveal_secret("auth_key") == "auth-passphrase"
    event = AuditEvent.objects.filter(action="switch.update").latest("pk")
    assert event.detail["changed"] == ["priv_protocol", "priv_key cleared"]
    refused = admin_api.patch(url, {"snmp_version": "2c"}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"community": ["SNMP v2c needs a community."]}


def test_staff_delete_a_switch_and_the_audit_names_the_servers_it_served(admin_api, admin):
    switch = make_switch()
    server = make_server()
    port = SwitchPort.objects.create(switch=switch, name="Gi1/0/1", server=server)
    assert admin_api.delete(f"/api/v1/switches/{switch.pk}/").status_code == 204
    assert not SwitchPort.objects.filter(pk=port.pk).exists()
    event = AuditEvent.objects.get(action="switch.delete")
    assert event.detail["disconnected"] == [server.name]


def test_switches_list_in_bounded_queries(admin_api, django_assert_max_num_queries):
    for _ in range(10):
        switch = make_switch()
        for n in range(3):
            SwitchPort.objects.create(switch=switch, name=f"Gi1/0/{n}", if_index=n + 1)
    with django_assert_max_num_queries(6):
        response = admin_api.get("/api/v1/switches/")
    assert response.json()["count"] == 10
    assert {row["port_count"] for row in response.json()["results"]} == {3}


def test_staff_create_a_port_and_connect_a_server_to_it(admin_api, free_server):
    switch = make_switch()
    created = admin_api.post(
        "/api/v1/switch-ports/",
        {"switch": switch.pk, "name": "Gi1/0/7", "description": "web rack"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["if_index"], body["server"], body["admin_status"]) == (None, None, "unknown")
    url = f"/api/v1/switch-ports/{body['id']}/"
    connected = admin_api.patch(url, {"server": free_server.pk}, format="json")
    assert connected.status_code == 200, connected.content
    assert connected.json()["server_name"] == free_server.name
    event = AuditEvent.objects.get(action="switch_port.connect")
    assert event.detail == {"server": free_server.name, "bmc_port": False}
    disconnected = admin_api.patch(url, {"server": None}, format="json")
    assert disconnected.json()["server"] is None
    assert AuditEvent.objects.get(action="switch_port.disconnect").detail == {
        "server": free_server.name
    }


def test_a_port_connected_to_another_server_is_a_409_not_a_silent_move(admin_api, free_server):
    other = make_server()
    port = SwitchPort.objects.create(switch=make_switch(), name="Gi1/0/1", server=other)
    response = admin_api.patch(
        f"/api/v1/switch-ports/{port.pk}/", {"server": free_server.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == f"{port} is connected to {other.name}; disconnect it first."
    port.refresh_from_db()
    assert port.server == other


def test_marking_the_bmc_port_needs_a_connected_server(admin_api, free_server):
    port = SwitchPort.objects.create(switch=make_switch(), name="Gi1/0/48")
    url = f"/api/v1/switch-ports/{port.pk}/"
    refused = admin_api.patch(url, {"is_ipmi_connection": True}, format="json")
    assert refused.status_code == 400
    assert "is_ipmi_connection" in refused.json()
    marked = admin_api.patch(
        url, {"server": free_server.pk, "is_ipmi_connection": True}, format="json"
    )
    assert marked.status_code == 200 and marked.json()["is_ipmi_connection"] is True
    unplugged = admin_api.patch(url, {"server": None}, format="json")
    assert unplugged.json()["is_ipmi_connection"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Gi1/0/2"}, "name"),
        ({"if_index": 2}, "if_index"),
        ({"if_index": 2**40}, "if_index"),  # beyond IF-MIB's range
        ({"switch": None}, "switch"),
    ],
)
def test_port_names_and_ifindexes_are_unique_per_switch(admin_api, change, field):
    switch = make_switch()
    SwitchPort.objects.create(switch=switch, name="Gi1/0/2", if_index=2)
    port = SwitchPort.objects.create(switch=switch, name="Gi1/0/1", if_index=1)
    if field == "switch":
        change = {"switch": make_switch().pk}
    response = admin_api.patch(f"/api/v1/switch-ports/{port.pk}/", change, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_ports_are_filtered_by_switch_and_server(admin_api, free_server):
    first, second = make_switch(), make_switch()
    SwitchPort.objects.create(switch=first, name="Gi1/0/1", server=free_server)
    SwitchPort.objects.create(switch=first, name="Gi1/0/2")
    SwitchPort.objects.create(switch=second, name="Gi1/0/1")
    by_switch = admin_api.get("/api/v1/switch-ports/", {"switch": first.pk}).json()
    assert by_switch["count"] == 2
    by_server = admin_api.get("/api/v1/switch-ports/", {"server": free_server.pk}).json()
    assert [row["switch_name"] for row in by_server["results"]] == [first.name]
    assert admin_api.get("/api/v1/switch-ports/", {"connected": "false"}).json()["count"] == 2
    assert admin_api.get("/api/v1/switch-ports/", {"switch": "x"}).status_code == 400


def test_staff_delete_a_port(admin_api):
    port = SwitchPort.objects.create(switch=make_switch(), name="Gi1/0/1")
    assert admin_api.delete(f"/api/v1/switch-ports/{port.pk}/").status_code == 204
    assert AuditEvent.objects.filter(action="switch_port.delete").exists()


def test_ports_list_in_bounded_queries(admin_api, django_assert_max_num_queries):
    switch = make_switch()
    for n in range(20):
        SwitchPort.objects.create(switch=switch, name=f"Gi1/0/{n}", server=make_server())
    with django_assert_max_num_queries(5):
        response = admin_api.get("/api/v1/switch-ports/")
    assert response.json()["count"] == 20
