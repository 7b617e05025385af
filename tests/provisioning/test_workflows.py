"""Workflows declare what the engine runs: every kind has one, the cancel rule is the
workflow's, and a device the engine has never heard of plugs in through the protocol."""

import dataclasses

import pytest

from inventory.models import Bmc
from panel.exceptions import Conflict
from provisioning import services, workflows
from provisioning.devices import DeviceError
from provisioning.models import Operation
from provisioning.tasks import run_operation
from provisioning.workflows.base import CancelRule, Next, Step, Workflow
from tests.factories import make_server


@pytest.mark.parametrize("kind", Operation.Kind.values)
def test_every_operation_kind_has_a_workflow_that_declares_its_first_step(kind):
    workflow = workflows.for_kind(kind)
    assert workflow.first in workflow.steps


def running_power_on(admin, customer) -> Operation:
    op = services.request_power(actor=admin, server=make_server(owner=customer), action="on")
    Operation.objects.filter(pk=op.pk).update(state="running")
    op.refresh_from_db()
    return op


def with_workflow(monkeypatch, kind: str, **changes) -> None:
    changed = dataclasses.replace(workflows.for_kind(kind), **changes)
    monkeypatch.setitem(workflows.REGISTRY, kind, changed)


def test_cancel_operation_and_the_engine_follow_the_workflows_cancel_rule(
    admin, customer, monkeypatch
):
    op = running_power_on(admin, customer)
    assert not services.is_cancellable(op)
    with pytest.raises(Conflict, match="a command sent to the BMC cannot be taken back"):
        services.cancel_operation(actor=customer, operation=op)

    taken = []
    rule = CancelRule(open=lambda op: True, take=lambda op: not taken.append(op.pk), refusal=str)
    with_workflow(monkeypatch, Operation.Kind.POWER_ON, cancel=rule)
    assert services.is_cancellable(op)
    services.cancel_operation(actor=customer, operation=op)
    assert taken == [op.pk]
    run_operation(op.pk)  # the worker sees the cancel before it talks to the BMC
    op.refresh_from_db()
    assert (op.state, op.error) == ("cancelled", "Cancelled by the owner.")


def test_a_cancel_rule_that_says_too_late_is_the_refusal(admin, customer, monkeypatch):
    op = running_power_on(admin, customer)
    late = CancelRule(open=lambda op: False, take=lambda op: False, refusal=lambda op: "Too late.")
    with_workflow(monkeypatch, Operation.Kind.POWER_ON, cancel=late)
    assert not services.is_cancellable(op)
    with pytest.raises(Conflict, match="Too late"):
        services.cancel_operation(actor=customer, operation=op)
    assert Operation.objects.get(pk=op.pk).cancel_requested_at is None


class OutletLocked(DeviceError):
    """A PDU driver's own error."""


class OutletDriver:
    def outlet_state(self) -> str:
        return "on"

    def set_outlet(self, state: str) -> None:
        raise OutletLocked("The PDU refused: outlet 3 is locked.")


class OutletConnection:
    def __init__(self, outlets: "Outlets"):
        self.outlets = outlets
        self.driver = OutletDriver()

    def check(self) -> None:
        self.outlets.checks += 1

    def observe(self, reading: str) -> str:
        self.outlets.readings.append(reading)
        return reading

    def failed(self, error: DeviceError) -> str:
        self.outlets.failures.append(error.message)
        return error.message


class Outlets:
    """A device kind that is not a BMC, as a PDU's will be: only the protocol, no engine change."""

    name = "the PDU"

    def __init__(self):
        self.checks, self.readings, self.failures = 0, [], []

    def call_window(self) -> float:
        return 5.0

    def connect(self, server) -> OutletConnection:
        return OutletConnection(self)


def read_outlet(op, driver, observe) -> Next:
    return Next("switch_off", 50, f"The outlet is {observe(driver.outlet_state())}.")


def switch_off(op, driver, observe):
    driver.set_outlet("off")


def test_a_workflow_on_another_device_runs_and_its_driver_errors_fail_the_operation(
    admin, customer, monkeypatch
):
    outlets = Outlets()
    steps = {"read_outlet": Step(read_outlet), "switch_off": Step(switch_off)}
    pdu_off = Workflow(device=outlets, first="read_outlet", steps=steps)
    monkeypatch.setitem(workflows.REGISTRY, Operation.Kind.POWER_OFF, pdu_off)
    op = services.request_power(actor=admin, server=make_server(owner=customer), action="off")
    run_operation(op.pk)
    op.refresh_from_db()
    assert (op.state, op.error) == ("failed", "The PDU refused: outlet 3 is locked.")
    assert "The outlet is on." in [event.message for event in op.events.all()]
    assert (outlets.checks, outlets.readings) == (2, ["on"])
    assert outlets.failures == ["The PDU refused: outlet 3 is locked."]
    assert Bmc.objects.get(server=op.server).consecutive_failures == 0  # no BMC was asked
