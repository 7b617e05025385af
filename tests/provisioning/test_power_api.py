"""Power and boot device end to end: API -> operation -> worker task -> simlab BMC."""

import dataclasses

import pytest

from inventory.models import Bmc
from panel.models import AuditEvent
from provisioning import workflows
from provisioning.models import Operation
from provisioning.tasks import run_operation
from provisioning.workflows import power as power_steps


def power(api, server, action, **extra):
    return api.post(
        f"/api/v1/servers/{server.pk}/power/", {"action": action, **extra}, format="json"
    )


def run_task(response) -> Operation:
    """Do what a django-q2 worker does with the queued task, and return the finished operation."""
    assert response.status_code == 202, response.content
    run_operation(response.json()["task"])
    return Operation.objects.get(pk=response.json()["task"])


@pytest.mark.parametrize(
    ("start", "action", "ends", "power_ons"),
    [
        ("off", "on", "on", 1),
        ("on", "off", "off", 0),
        ("on", "soft_off", "off", 0),
        ("on", "reset", "on", 1),
        ("on", "cycle", "on", 1),
    ],
)
def test_every_power_action_reaches_the_state_the_bmc_reports(
    owner_api, lab_server, simlab, start, action, ends, power_ons
):
    simlab.change(lab_server.lab_port, power=start)
    response = power(owner_api, lab_server, action)
    assert response.json() == {"id": lab_server.pk, "task": response.json()["task"]}
    op = run_task(response)
    assert op.state == "succeeded", op.error
    assert op.result == {"power_state": ends}
    machine = simlab.machine(lab_server.lab_port)
    assert machine["power"] == ends
    # a loaded machine may see a retransmitted reset twice (see test_ipmi_driver)
    assert machine["power_on_count"] >= power_ons if power_ons else machine["power_on_count"] == 0
    bmc = Bmc.objects.get(server=lab_server)
    assert (bmc.power_state, bmc.reachable, bmc.cipher_suite) == (ends, True, 3)
    assert bmc.desired_power_state == ends
    assert [e.step for e in op.events.all()][-1] == "confirm"


def test_powering_on_a_running_server_sends_nothing(owner_api, lab_server, simlab):
    simlab.change(lab_server.lab_port, power="on")
    op = run_task(power(owner_api, lab_server, "on"))
    assert op.state == "succeeded"
    assert "already on" in op.events.last().message
    assert simlab.machine(lab_server.lab_port)["power_on_count"] == 0


@pytest.mark.parametrize("action", ["reset", "cycle"])
def test_restarting_a_server_that_is_off_fails_instead_of_powering_it_on(
    owner_api, lab_server, simlab, action
):
    op = run_task(power(owner_api, lab_server, action))
    assert op.state == "failed"
    assert "Power it on instead" in op.error
    assert simlab.machine(lab_server.lab_port)["power"] == "off"


def test_a_graceful_shutdown_the_os_ignores_fails_without_forcing(owner_api, lab_server, simlab):
    simlab.change(lab_server.lab_port, power="on", acpi_responsive=False)
    op = run_task(power(owner_api, lab_server, "soft_off"))
    assert op.state == "failed"
    assert "did not shut down within 3 s" in op.error
    assert "Nothing was forced" in op.error
    assert simlab.machine(lab_server.lab_port)["power"] == "on"


def test_a_wrong_bmc_password_fails_the_operation_with_a_clear_message(
    owner_api, lab_server, admin
):
    bmc = Bmc.objects.get(server=lab_server)
    bmc.set_password("wrong-password")
    bmc.save()
    op = run_task(power(owner_api, lab_server, "on"))
    assert op.state == "failed"
    assert "refused the username or password" in op.error
    assert "wrong-password" not in op.error


def test_a_bmc_that_does_not_answer_fails_the_operation_in_bounded_time(
    owner_api, lab_server, simlab
):
    simlab.change(lab_server.lab_port, silent=True)
    op = run_task(power(owner_api, lab_server, "on"))
    assert op.state == "failed"
    assert "No answer from the BMC" in op.error
    assert (op.finished_at - op.started_at).total_seconds() < 10
    assert Bmc.objects.get(server=lab_server).consecutive_failures == 1


def test_a_bmc_that_stops_answering_mid_operation_fails_it(
    owner_api, lab_server, simlab, monkeypatch
):
    simlab.change(lab_server.lab_port, power="on", acpi_responsive=False)
    response = power(owner_api, lab_server, "soft_off")

    def confirm_after_the_bmc_dropped_off(op, driver, observe):
        # Not a mock: the real step runs, after the real BMC was told to stop answering at
        # exactly this point (after the command was sent).
        simlab.change(lab_server.lab_port, silent=True)
        return power_steps.confirm(op, driver, observe)

    steps = workflows.for_kind(Operation.Kind.SOFT_SHUTDOWN).steps
    patched = dataclasses.replace(steps["confirm"], act=confirm_after_the_bmc_dropped_off)
    monkeypatch.setitem(steps, "confirm", patched)
    op = run_task(response)
    assert op.state == "failed"
    assert "No answer from the BMC" in op.error
    assert op.step == "confirm"


def test_anonymous_and_other_customers_cannot_power_a_server(
    anonymous_api, other_api, lab_server, simlab
):
    assert power(anonymous_api, lab_server, "on").status_code == 401
    assert power(other_api, lab_server, "on").status_code == 404
    assert other_api.get(f"/api/v1/servers/{lab_server.pk}/power/").status_code == 404
    assert not Operation.objects.exists()


def test_admin_powers_any_server(admin_api, lab_server, simlab):
    op = run_task(power(admin_api, lab_server, "on"))
    assert op.state == "succeeded"
    assert op.requested_by.email == "staff@example.test"


def test_a_second_request_while_one_is_active_is_a_409_naming_it(owner_api, lab_server):
    first = power(owner_api, lab_server, "on")
    second = power(owner_api, lab_server, "off")
    assert second.status_code == 409
    assert second.json()["operation"] == first.json()["task"]
    assert f"#{first.json()['task']}" in second.json()["detail"]


def test_a_suspended_server_refuses_power_changes(owner_api, lab_server):
    lab_server.suspended = True
    lab_server.save()
    response = power(owner_api, lab_server, "on")
    assert response.status_code == 409
    assert "suspended" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"action": "explode"}, {"action": "soft_off", "timeout": 1}, {"action": ["on"]}],
)
def test_bad_power_requests_are_field_errors(owner_api, lab_server, payload):
    response = owner_api.post(f"/api/v1/servers/{lab_server.pk}/power/", payload, format="json")
    assert response.status_code == 400


def test_power_state_is_the_last_reading_or_a_fresh_one(owner_api, lab_server, simlab):
    url = f"/api/v1/servers/{lab_server.pk}/power/"
    assert owner_api.get(url).json()["power_state"] == "unknown"
    simlab.change(lab_server.lab_port, power="on")
    fresh = owner_api.get(url + "?refresh=true").json()
    assert fresh["power_state"] == "on"
    assert fresh["reachable"] is True
    assert fresh["read_at"] is not None
    simlab.change(lab_server.lab_port, silent=True)
    failed = owner_api.get(url + "?refresh=true")
    assert failed.status_code == 200
    assert "No answer" in failed.json()["error"]


def test_boot_device_end_to_end(owner_api, lab_server, simlab):
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/boot-device/", {"device": "pxe"}, format="json"
    )
    op = run_task(response)
    assert op.state == "succeeded"
    assert op.result == {"boot_device": "pxe"}
    assert simlab.machine(lab_server.lab_port)["boot_device"] == "pxe"
    bad = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/boot-device/", {"device": "floppy"}, format="json"
    )
    assert bad.status_code == 400


def test_every_request_and_outcome_is_audited(owner_api, lab_server):
    run_task(power(owner_api, lab_server, "on"))
    actions = list(
        AuditEvent.objects.filter(target_id=str(lab_server.pk)).values_list("action", flat=True)
    )
    assert "operation.request.power_on" in actions
    assert "operation.succeeded" in actions


def test_the_server_shows_its_active_operation(owner_api, lab_server):
    task = power(owner_api, lab_server, "on").json()["task"]
    body = owner_api.get(f"/api/v1/servers/{lab_server.pk}/").json()
    assert body["active_operation"] == {
        "id": task,
        "kind": "power_on",
        "state": "queued",
        "step": "",
        "progress": 0,
    }
    run_operation(task)
    assert owner_api.get(f"/api/v1/servers/{lab_server.pk}/").json()["active_operation"] is None
