"""Suspend, resume and PDU power requests: who may ask, what is checked before anything is
queued, and what a suspended server refuses its customer."""

import pytest

from inventory.models import Pdu, PduOutlet, Switch, SwitchPort
from panel.models import AuditEvent
from provisioning.models import Operation


def connect_ports(server, *, if_index=1):
    switch, _ = Switch.objects.get_or_create(name="sw-1", address="192.0.2.1")
    data = SwitchPort.objects.create(
        switch=switch, name=f"Gi1/0/{if_index}", if_index=if_index, server=server
    )
    bmc = SwitchPort.objects.create(
        switch=switch,
        name=f"Gi1/0/{if_index + 100}",
        if_index=if_index + 100,
        server=server,
        is_ipmi_connection=True,
    )
    return data, bmc


def test_staff_suspend_marks_the_server_and_queues_the_data_ports(admin_api, owned_server):
    data, _ = connect_ports(owned_server)

    answer = admin_api.post(
        f"/api/v1/servers/{owned_server.pk}/suspend/", {"reason": "Invoice 1234 unpaid"}
    )

    assert answer.status_code == 202
    op = Operation.objects.get(pk=answer.json()["task"])
    assert answer.json() == {"id": owned_server.pk, "task": op.pk}
    assert op.kind == Operation.Kind.SUSPEND
    assert op.params["ports"] == [data.pk]  # the BMC's port stays up
    owned_server.refresh_from_db()
    assert owned_server.suspended
    assert owned_server.suspend_reason == "Invoice 1234 unpaid"
    assert owned_server.suspended_at is not None
    shown = admin_api.get(f"/api/v1/servers/{owned_server.pk}/").json()
    assert shown["suspended"] is True
    assert AuditEvent.objects.filter(action="operation.request.suspend").exists()


def test_a_suspended_server_refuses_its_customer_but_not_staff(
    admin_api, owner_api, owned_server, shipped_os_templates
):
    connect_ports(owned_server)
    admin_api.post(f"/api/v1/servers/{owned_server.pk}/suspend/", {"reason": "unpaid"})
    Operation.objects.update(state=Operation.State.SUCCEEDED)  # the ports are down

    for path, body in [
        ("power/", {"action": "on"}),
        ("boot-device/", {"device": "pxe"}),
        ("diagnostics/", {}),
        ("wipe/", {"mode": "simple"}),
    ]:
        answer = owner_api.post(f"/api/v1/servers/{owned_server.pk}/{path}", body)
        assert answer.status_code == 409, path
        assert "is suspended (unpaid)" in answer.json()["detail"]
    assert (
        admin_api.post(f"/api/v1/servers/{owned_server.pk}/power/", {"action": "on"}).status_code
        == 202
    )


def test_resume_lifts_the_suspension_and_queues_the_ports(admin_api, owned_server):
    data, _ = connect_ports(owned_server)
    admin_api.post(f"/api/v1/servers/{owned_server.pk}/suspend/", {"reason": "unpaid"})
    Operation.objects.update(state=Operation.State.SUCCEEDED)

    answer = admin_api.post(f"/api/v1/servers/{owned_server.pk}/resume/", {})

    assert answer.status_code == 202
    op = Operation.objects.get(pk=answer.json()["task"])
    assert (op.kind, op.params["ports"]) == (Operation.Kind.RESUME, [data.pk])
    owned_server.refresh_from_db()
    assert (owned_server.suspended, owned_server.suspend_reason) == (False, "")
    assert owned_server.suspended_at is None


def test_suspend_needs_connected_and_discovered_ports(admin_api, owned_server):
    url = f"/api/v1/servers/{owned_server.pk}/suspend/"
    answer = admin_api.post(url, {})
    assert answer.status_code == 409
    assert "no switch port connected" in answer.json()["detail"]

    switch = Switch.objects.create(name="sw-2", address="192.0.2.2")
    SwitchPort.objects.create(switch=switch, name="Gi1/0/9", server=owned_server)
    answer = admin_api.post(url, {})
    assert answer.status_code == 409
    assert "sw-2 Gi1/0/9" in answer.json()["detail"]
    assert "discovery" in answer.json()["detail"]
    owned_server.refresh_from_db()
    assert not owned_server.suspended  # nothing was changed by a refused request


def test_suspend_refuses_unknown_fields_and_long_reasons(admin_api, owned_server):
    connect_ports(owned_server)
    url = f"/api/v1/servers/{owned_server.pk}/suspend/"
    assert admin_api.post(url, {"reason": "x", "force": True}).status_code == 400
    assert admin_api.post(url, {"reason": "x" * 201}).status_code == 400
    assert admin_api.post(f"/api/v1/servers/{owned_server.pk}/resume/", {"x": 1}).status_code == 400


def test_pdu_power_switches_the_servers_outlets(admin_api, owned_server):
    url = f"/api/v1/servers/{owned_server.pk}/pdu-power/"
    assert admin_api.post(url, {"action": "cycle"}).status_code == 409  # none connected
    pdu = Pdu.objects.create(name="pdu-1", address="192.0.2.3")
    outlets = [PduOutlet.objects.create(pdu=pdu, number=n, server=owned_server) for n in (3, 4)]

    answer = admin_api.post(url, {"action": "cycle"})

    assert answer.status_code == 202
    op = Operation.objects.get(pk=answer.json()["task"])
    assert op.kind == Operation.Kind.PDU_CYCLE
    assert op.params["outlets"] == [outlet.pk for outlet in outlets]
    assert admin_api.post(url, {"action": "explode"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "body"),
    [("suspend/", {"reason": "x"}), ("resume/", {}), ("pdu-power/", {"action": "off"})],
)
def test_only_staff_suspend_resume_and_switch_outlets(
    anonymous_api, other_api, owner_api, owned_server, path, body
):
    url = f"/api/v1/servers/{owned_server.pk}/{path}"
    assert anonymous_api.post(url, body).status_code == 401
    assert other_api.post(url, body).status_code == 404
    assert owner_api.post(url, body).status_code == 403


def test_a_customer_cannot_cancel_the_suspension_staff_queued(admin_api, owner_api, owned_server):
    connect_ports(owned_server)
    task = admin_api.post(f"/api/v1/servers/{owned_server.pk}/suspend/", {"reason": "x"}).json()
    answer = owner_api.post(f"/api/v1/operations/{task['task']}/cancel/")
    assert answer.status_code == 403
    assert Operation.objects.get(pk=task["task"]).state == Operation.State.QUEUED
    assert admin_api.post(f"/api/v1/operations/{task['task']}/cancel/").status_code == 200
