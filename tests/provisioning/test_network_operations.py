"""Suspend, resume and PDU power end to end: the API, a worker's run of the operation and
simlab's SNMP switch and PDU agents on loopback (real pysnmp agents, read back by the panel
and checked at the agent)."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connections

from inventory.models import Bmc, PduOutlet, Switch, SwitchPort
from network import portsync
from panel.models import AuditEvent
from provisioning import services
from provisioning.models import Operation
from provisioning.tasks import run_operation

pytestmark = pytest.mark.e2e


def run(answer) -> Operation:
    assert answer.status_code == 202, answer.content
    run_operation(answer.json()["task"])
    return Operation.objects.get(pk=answer.json()["task"])


def test_suspend_shuts_the_data_port_at_the_switch_and_resume_opens_it(
    simlab, cabled_server, admin_api, owner_api
):
    url = f"/api/v1/servers/{cabled_server.pk}/"
    op = run(admin_api.post(f"{url}suspend/", {"reason": "Invoice 1234 unpaid"}))

    assert op.state == Operation.State.SUCCEEDED, op.error
    assert simlab.port_at_switch(cabled_server.cable.data_if_index)["admin"] == "down"
    assert simlab.port_at_switch(cabled_server.cable.bmc_if_index)["admin"] == "up"  # the BMC stays
    data = SwitchPort.objects.get(server=cabled_server, is_ipmi_connection=False)
    assert (data.admin_status, data.oper_status) == ("down", "down")
    refused = owner_api.post(f"{url}power/", {"action": "on"})
    assert refused.status_code == 409
    assert "suspended (Invoice 1234 unpaid)" in refused.json()["detail"]

    op = run(admin_api.post(f"{url}resume/", {}))

    assert op.state == Operation.State.SUCCEEDED, op.error
    assert simlab.port_at_switch(cabled_server.cable.data_if_index)["admin"] == "up"
    assert owner_api.post(f"{url}power/", {"action": "on"}).status_code == 202


def test_a_dead_switch_fails_the_suspend_clearly_within_its_bound(simlab, cabled_server, admin_api):
    simlab.change_switch(silent=True)
    began = time.monotonic()

    op = run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/suspend/", {"reason": "unpaid"}))

    seconds = time.monotonic() - began
    bound = settings.PANEL_SNMP_TIMEOUT * (settings.PANEL_SNMP_RETRIES + 1)
    assert op.state == Operation.State.FAILED
    # Its customer reads the operation: no address, port or community hint there.
    assert op.error == (
        "Switch simlab-switch-0 did not answer; staff see why on the switch's page."
    )
    assert "127.0.0.1" not in str(list(op.events.values_list("message", flat=True)))
    assert seconds < bound + 3, seconds
    switch = Switch.objects.get()
    assert switch.last_error.startswith(f"No answer from the SNMP agent at 127.0.0.1:{switch.port}")
    assert switch.consecutive_failures == 1
    cabled_server.refresh_from_db()
    assert cabled_server.suspended  # billing's intent stands; staff see the failed operation


def test_a_pdu_cycle_cuts_the_power_and_the_machine_comes_back(simlab, cabled_server, admin_api):
    simlab.change(cabled_server.lab_port, power="on")

    op = run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/pdu-power/", {"action": "cycle"}))

    assert op.state == Operation.State.SUCCEEDED, op.error
    steps = list(op.events.values_list("message", flat=True))
    assert any("reports simlab-pdu-0 outlet" in step and step.endswith(" off.") for step in steps)
    assert "Kept the power off for 5 s." in steps
    assert op.result["outlets"] == {f"simlab-pdu-0 outlet {cabled_server.cable.outlet}": "on"}
    assert simlab.machine(cabled_server.lab_port)["power"] == "on"  # its restore policy: previous
    assert PduOutlet.objects.get(server=cabled_server).power_state == "on"
    assert Bmc.objects.get(server=cabled_server).power_state == "unknown"  # read again by the sync


def test_a_pdu_off_powers_the_machine_off(simlab, cabled_server, admin_api):
    simlab.change(cabled_server.lab_port, power="on")

    op = run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/pdu-power/", {"action": "off"}))

    assert op.state == Operation.State.SUCCEEDED, op.error
    assert simlab.machine(cabled_server.lab_port)["power"] == "off"
    assert Bmc.objects.get(server=cabled_server).desired_power_state == "off"
    run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/pdu-power/", {"action": "on"}))


def test_a_port_enabled_by_hand_on_a_suspended_server_is_drift_and_enforce_shuts_it(
    simlab, cabled_server, admin_api
):
    run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/suspend/", {"reason": "unpaid"}))
    simlab.change_switch_port(
        cabled_server.cable.data_if_index, admin="up"
    )  # someone at the switch
    Switch.objects.update(next_poll_at=None)  # due now (the operation has just read it)

    report = services.sync_network_states()

    assert report.drifted and not report.to_suspend  # policy record: audited only
    event = AuditEvent.objects.get(action="switch_port.drift")
    assert (event.detail["expected"], event.detail["observed"]) == ("down", "up")

    Switch.objects.update(drift_policy=Switch.DriftPolicy.ENFORCE, next_poll_at=None)
    report = services.sync_network_states()

    assert report.to_suspend == {cabled_server.pk}
    op = Operation.objects.filter(kind=Operation.Kind.SUSPEND).latest("pk")
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert simlab.port_at_switch(cabled_server.cable.data_if_index)["admin"] == "down"
    assert AuditEvent.objects.filter(action="switch_port.drift").count() == 1  # once, not per sweep


def test_a_hung_bmc_fails_power_with_the_pdu_as_the_way_out(
    simlab, cabled_server, owner_api, admin_api
):
    simlab.change(cabled_server.lab_port, power="on", silent=True)  # the BMC hangs

    op = run(owner_api.post(f"/api/v1/servers/{cabled_server.pk}/power/", {"action": "cycle"}))

    assert op.state == Operation.State.FAILED
    assert "No answer from the BMC" in op.error
    assert op.error.endswith("through its PDU outlets (PDU power cycle).")
    op = run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/pdu-power/", {"action": "cycle"}))
    assert op.state == Operation.State.SUCCEEDED, op.error


def test_a_bmc_port_shut_at_the_switch_is_audited_but_never_resumes_a_suspended_server(
    simlab, cabled_server, admin_api
):
    run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/suspend/", {"reason": "unpaid"}))
    Switch.objects.update(drift_policy=Switch.DriftPolicy.ENFORCE, next_poll_at=None)
    simlab.change_switch_port(cabled_server.cable.bmc_if_index, admin="down")

    report = services.sync_network_states()

    assert report.drifted and not report.to_resume and not report.to_suspend
    assert not Operation.objects.filter(kind=Operation.Kind.RESUME).exists()
    assert simlab.port_at_switch(cabled_server.cable.data_if_index)["admin"] == "down"


@pytest.mark.django_db(transaction=True)
def test_a_sweep_never_undoes_nor_calls_drift_what_a_suspend_did_while_it_ran(
    simlab, cabled_server, admin_api
):
    """The sweep read the data port up, a suspend shut it meanwhile: storing the older read
    would show the port up, and calling it drift would resume a suspended server."""
    data_port = SwitchPort.objects.get(if_index=cabled_server.cable.data_if_index)
    Switch.objects.update(drift_policy=Switch.DriftPolicy.ENFORCE, next_poll_at=None)
    simlab.change_pdu(silent=True)  # holds the sweep for one SNMP timeout
    reports = []
    sweeping = threading.Thread(
        target=lambda: (reports.append(portsync.sweep()), connections.close_all())
    )
    try:
        sweeping.start()
        time.sleep(1)  # the switch has answered: the data port is up
        run(admin_api.post(f"/api/v1/servers/{cabled_server.pk}/suspend/", {"reason": "unpaid"}))
        sweeping.join(timeout=60)
    finally:
        simlab.change_pdu(silent=False)
    data_port.refresh_from_db()
    assert data_port.admin_status == "down"
    assert not reports[0].drifted and not reports[0].to_resume
    assert not AuditEvent.objects.filter(action="switch_port.drift").exists()
