"""Servers connected to switch ports and PDU outlets: the services, the server object, the
admin from either side."""

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory import services
from inventory.models import PduOutlet, SwitchPort
from panel.exceptions import Conflict
from panel.models import AuditEvent
from tests.factories import NO_CONNECTION_ROWS, make_pdu, make_server, make_switch


@pytest.fixture
def wired(owned_server):
    """The owner's server: a data port, its BMC's port and two PSUs on two PDUs."""
    switch = make_switch(name="sw-edge-1", address="192.0.2.41")
    SwitchPort.objects.create(
        switch=switch,
        name="Gi1/0/1",
        if_index=10101,
        description="GigabitEthernet1/0/1",
        server=owned_server,
        admin_status="up",
        oper_status="up",
    )
    SwitchPort.objects.create(
        switch=switch, name="Gi1/0/48", if_index=10148, server=owned_server, is_ipmi_connection=True
    )
    for name in ("pdu-a", "pdu-b"):
        PduOutlet.objects.create(
            pdu=make_pdu(name=name), number=7, server=owned_server, power_state="on"
        )
    return owned_server


def test_the_owner_sees_their_servers_connections_without_device_addresses(owner_api, wired):
    response = owner_api.get(f"/api/v1/servers/{wired.pk}/")
    assert response.status_code == 200
    body = response.json()
    data, bmc = body["switch_connection"]
    assert data == {
        "id": data["id"],
        "switch": data["switch"],
        "switch_name": "sw-edge-1",
        "name": "Gi1/0/1",
        "if_index": 10101,
        "description": "GigabitEthernet1/0/1",
        "admin_status": "up",
        "oper_status": "up",
        "is_ipmi_connection": False,
    }
    assert bmc["is_ipmi_connection"] is True
    assert [
        (row["pdu_name"], row["number"], row["power_status"]) for row in body["pdu_connection"]
    ] == [
        ("pdu-a", 7, "on"),
        ("pdu-b", 7, "on"),
    ]
    assert body["pdu_connection"][0]["port_identity"] == "7"
    text = response.content.decode()
    assert "192.0.2.41" not in text
    assert "community" not in text


def test_another_customer_cannot_see_the_connections(other_api, anonymous_api, wired):
    assert other_api.get(f"/api/v1/servers/{wired.pk}/").status_code == 404
    assert anonymous_api.get(f"/api/v1/servers/{wired.pk}/").status_code == 401


def test_staff_see_suspension_reason_and_time_read_only(admin_api, wired):
    wired.suspended, wired.suspend_reason, wired.suspended_at = True, "unpaid", timezone.now()
    wired.save()
    body = admin_api.get(f"/api/v1/servers/{wired.pk}/").json()
    assert (body["suspended"], body["suspend_reason"]) == (True, "unpaid")
    assert body["suspended_at"]
    response = admin_api.patch(
        f"/api/v1/servers/{wired.pk}/", {"suspend_reason": "paid"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"suspend_reason": ["This field is read-only."]}


def test_the_server_list_stays_in_bounded_queries_with_connections(
    admin_api, customer, django_assert_max_num_queries
):
    switch, pdu = make_switch(), make_pdu()
    for n in range(15):
        server = make_server(owner=customer)
        SwitchPort.objects.create(switch=switch, name=f"Gi1/0/{n}", server=server)
        PduOutlet.objects.create(pdu=pdu, number=n + 1, server=server)
    with django_assert_max_num_queries(10):
        response = admin_api.get("/api/v1/servers/")
    rows = response.json()["results"]
    assert len(rows) == 15
    assert all(len(row["switch_connection"]) == 1 for row in rows)


def test_connecting_a_port_taken_by_another_server_is_a_conflict(admin, free_server):
    other = make_server()
    port = SwitchPort.objects.create(switch=make_switch(), name="Gi1/0/1", server=other)
    with pytest.raises(Conflict, match=f"connected to {other.name}; disconnect it first"):
        services.connect_switch_port(actor=admin, port=port, server=free_server)
    services.disconnect_switch_port(actor=admin, port=port)
    connected = services.connect_switch_port(
        actor=admin, port=port, server=free_server, is_ipmi_connection=True
    )
    assert (connected.server, connected.is_ipmi_connection) == (free_server, True)
    again = services.connect_switch_port(
        actor=admin, port=port, server=free_server, is_ipmi_connection=True
    )
    assert again.server == free_server
    assert AuditEvent.objects.filter(action="switch_port.connect").count() == 1


def test_ports_and_outlets_named_are_created_once(admin):
    switch, pdu = make_switch(), make_pdu()
    port = services.switch_port_named(actor=admin, switch=switch, name="xe-0/0/1")
    assert port.if_index is None
    assert services.switch_port_named(actor=admin, switch=switch, name="xe-0/0/1") == port
    outlet = services.pdu_outlet_numbered(actor=admin, pdu=pdu, number=3)
    assert services.pdu_outlet_numbered(actor=admin, pdu=pdu, number=3) == outlet
    assert (
        AuditEvent.objects.filter(action__in=["switch_port.create", "pdu_outlet.create"]).count()
        == 2
    )


# The admin, from either side.


@pytest.fixture
def staff_browser(client, admin):
    client.force_login(admin)
    return client


def inline_data(server, ports=(), outlets=(), **extra):
    """The server change form's POST with its BMC kept and the connection rows given."""
    data = {
        "name": server.name,
        "profile": server.profile_id,
        "state": server.state,
        "facts": "{}",
        "bmc-TOTAL_FORMS": "1",
        "bmc-INITIAL_FORMS": "1",
        "bmc-0-id": server.bmc.pk,
        "bmc-0-server": server.pk,
        "bmc-0-address": server.bmc.address,
        "bmc-0-port": server.bmc.port,
        "bmc-0-username": server.bmc.username,
        "ip_addresses-TOTAL_FORMS": "0",
        "ip_addresses-INITIAL_FORMS": "0",
        **NO_CONNECTION_ROWS,
    }
    for prefix, rows in (("switch_ports", ports), ("pdu_outlets", outlets)):
        initial = [row for row in rows if "id" in row]
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(len(initial))
        for i, row in enumerate(rows):
            data.update({f"{prefix}-{i}-{name}": value for name, value in row.items()})
    data.update(extra)
    return data


def test_staff_connect_a_server_from_its_admin_page(staff_browser, free_server):
    switch, pdu = make_switch(), make_pdu()
    SwitchPort.objects.create(switch=switch, name="Gi1/0/3", if_index=3)
    url = reverse("admin:inventory_server_change", args=[free_server.pk])
    response = staff_browser.post(
        url,
        inline_data(
            free_server,
            ports=[
                {"switch": switch.pk, "name": "Gi1/0/3"},
                {"switch": switch.pk, "name": "Gi1/0/47", "is_ipmi_connection": "on"},
            ],
            outlets=[{"pdu": pdu.pk, "number": "5"}],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    ports = {port.name: port for port in free_server.switch_ports.all()}
    assert ports["Gi1/0/3"].if_index == 3 and not ports["Gi1/0/3"].is_ipmi_connection
    assert ports["Gi1/0/47"].if_index is None and ports["Gi1/0/47"].is_ipmi_connection
    assert free_server.pdu_outlets.get().number == 5
    assert AuditEvent.objects.filter(action="switch_port.connect").count() == 2
    assert AuditEvent.objects.filter(action="pdu_outlet.connect").count() == 1
    page = staff_browser.get(url).content.decode()
    assert "Gi1/0/47" in page and "switch-community" not in page


def test_deleting_a_row_on_the_server_page_disconnects_and_keeps_the_port(
    staff_browser, free_server
):
    port = SwitchPort.objects.create(switch=make_switch(), name="Gi1/0/9", server=free_server)
    url = reverse("admin:inventory_server_change", args=[free_server.pk])
    row = {"id": port.pk, "server": free_server.pk, "DELETE": "on"}
    response = staff_browser.post(url, inline_data(free_server, ports=[row]))
    assert response.status_code == 302, response.content.decode()[:3000]
    port.refresh_from_db()
    assert port.server is None
    assert AuditEvent.objects.filter(action="switch_port.disconnect").exists()
    assert not AuditEvent.objects.filter(action__endswith="port.delete").exists()


def test_a_port_of_another_server_is_a_form_error_on_the_server_page(staff_browser, free_server):
    other = make_server()
    switch = make_switch()
    SwitchPort.objects.create(switch=switch, name="Gi1/0/1", server=other)
    url = reverse("admin:inventory_server_change", args=[free_server.pk])
    response = staff_browser.post(
        url, inline_data(free_server, ports=[{"switch": switch.pk, "name": "Gi1/0/1"}])
    )
    assert response.status_code == 200
    assert f"is connected to {other.name}; disconnect it first." in response.content.decode()
    assert not free_server.switch_ports.exists()


def test_staff_connect_a_server_from_the_port_admin(staff_browser, free_server):
    other = make_server()
    switch = make_switch()
    port = SwitchPort.objects.create(switch=switch, name="Gi1/0/2", server=other)
    url = reverse("admin:inventory_switchport_change", args=[port.pk])
    form = {"switch": switch.pk, "name": "Gi1/0/2", "description": "", "server": free_server.pk}
    refused = staff_browser.post(url, form)
    assert refused.status_code == 200
    assert f"is connected to {other.name}; disconnect it first." in refused.content.decode()
    assert staff_browser.post(url, {**form, "server": ""}).status_code == 302
    assert staff_browser.post(url, form).status_code == 302
    port.refresh_from_db()
    assert port.server == free_server
    actions = AuditEvent.objects.filter(action__startswith="switch_port.").order_by("pk")
    assert list(actions.values_list("action", flat=True)) == [
        "switch_port.disconnect",
        "switch_port.connect",
    ]


def test_staff_connect_an_outlet_from_the_outlet_admin(staff_browser, free_server):
    pdu = make_pdu()
    response = staff_browser.post(
        reverse("admin:inventory_pduoutlet_add"),
        {"pdu": pdu.pk, "number": "12", "name": "A12", "server": free_server.pk},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    outlet = free_server.pdu_outlets.get()
    assert (outlet.pdu, outlet.number, outlet.name) == (pdu, 12, "A12")
    assert AuditEvent.objects.filter(action="pdu_outlet.create").exists()
    assert AuditEvent.objects.filter(action="pdu_outlet.connect").exists()


def test_the_server_form_cannot_suspend_a_server_behind_the_switchs_back(
    staff_browser, free_server
):
    """Suspension changes only through the suspend and resume actions, which drive the ports."""
    url = reverse("admin:inventory_server_change", args=[free_server.pk])
    response = staff_browser.post(url, inline_data(free_server, suspended="on"))
    assert response.status_code == 302
    free_server.refresh_from_db()
    assert not free_server.suspended
