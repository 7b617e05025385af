"""Power and boot-device workflows, one idempotent step at a time, through the BMC.

Steps that act (send a chassis command) may run twice if a worker dies between acting
and recording: sending "on" to a server that is on, or a second reset, is harmless.
"""

from dataclasses import dataclass

from django.conf import settings

from inventory.models import Bmc
from provisioning.bmc import BmcError, BmcUnreachable
from provisioning.models import Operation
from provisioning.workflows.base import Done, Next, Step, StepFailed, Wait, Workflow
from provisioning.workflows.bmc import BMC

Kind = Operation.Kind


@dataclass(frozen=True)
class PowerPlan:
    """How a power kind runs: the chassis action, the state it needs first, the state it ends in."""

    action: str
    ends: str
    needs_on: bool = False


POWER_PLANS = {
    Kind.POWER_ON: PowerPlan(action="on", ends="on"),
    Kind.POWER_OFF: PowerPlan(action="off", ends="off"),
    Kind.SOFT_SHUTDOWN: PowerPlan(action="soft_off", ends="off"),
    Kind.POWER_RESET: PowerPlan(action="reset", ends="on", needs_on=True),
    Kind.POWER_CYCLE: PowerPlan(action="cycle", ends="on", needs_on=True),
}
KIND_FOR_ACTION = {plan.action: kind for kind, plan in POWER_PLANS.items()}
POLL_SECONDS = 1.0


def read_state(op: Operation, driver, observe) -> Next | Done:
    plan = POWER_PLANS[op.kind]
    state = observe(driver.power_state())
    if state == plan.ends and not plan.needs_on:
        return Done(f"The server is already {state}; nothing to do.", {"power_state": state})
    if plan.needs_on and state != "on":
        raise StepFailed(
            f"The server is {state}: a {op.get_kind_display().lower()} only restarts a running "
            "server. Power it on instead."
        )
    return Next("send", 30, f"The BMC reports the server {state}.")


def send(op: Operation, driver, observe) -> Next:
    plan = POWER_PLANS[op.kind]
    driver.power(plan.action)
    return Next("confirm", 60, f"Sent chassis command: {plan.action}.")


def confirm(op: Operation, driver, observe) -> Wait | Done:
    plan = POWER_PLANS[op.kind]
    try:
        state = observe(driver.power_state())
    except BmcUnreachable:
        raise  # the driver already waited its full timeout: the BMC stopped answering
    except BmcError:
        return Wait(POLL_SECONDS)  # a BMC can be briefly busy right after a chassis command
    if state == plan.ends:
        return Done(f"The BMC reports the server {state}.", {"power_state": state})
    return Wait(POLL_SECONDS)


def sensible_actions(state: str) -> list[str]:
    """The power actions worth offering for a server in `state` (all of them when unknown)."""
    if state not in ("on", "off"):
        return [plan.action for plan in POWER_PLANS.values()]
    return [
        plan.action
        for plan in POWER_PLANS.values()
        if (state == "on" if plan.needs_on else plan.ends != state)
    ]


def remember_requested_state(op: Operation) -> None:
    """The state the power sync holds the server to under the `enforce` drift policy."""
    Bmc.objects.filter(server_id=op.server_id).update(desired_power_state=POWER_PLANS[op.kind].ends)


def confirm_seconds(op: Operation) -> float:
    return float(settings.PANEL_POWER_CONFIRM_SECONDS)


def shutdown_seconds(op: Operation) -> float:
    return float(op.params.get("timeout", settings.PANEL_SOFT_SHUTDOWN_SECONDS))


def shutdown_refused(op: Operation) -> str:
    return (
        f"The operating system did not shut down within {shutdown_seconds(op):g} s of the "
        "ACPI request. Nothing was forced: use power off to cut the power."
    )


def power_workflow(confirm_step: Step) -> Workflow:
    steps = {"read_state": Step(read_state), "send": Step(send), "confirm": confirm_step}
    return Workflow(device=BMC, first="read_state", steps=steps, succeeded=remember_requested_state)


def set_boot_device(op: Operation, driver, observe) -> Next:
    driver.set_boot_device(op.params["device"], persistent=op.params.get("persistent", False))
    return Next("confirm_boot_device", 60, f"Asked for next boot from {op.params['device']}.")


def confirm_boot_device(op: Operation, driver, observe) -> Done:
    device = driver.boot_device()
    if device != op.params["device"]:
        raise StepFailed(
            f"The BMC accepted boot device {op.params['device']} but reports {device}."
        )
    return Done(f"The BMC will boot the server from {device}.", {"boot_device": device})


WORKFLOWS = {kind: power_workflow(Step(confirm, window=confirm_seconds)) for kind in POWER_PLANS}
WORKFLOWS[Kind.SOFT_SHUTDOWN] = power_workflow(
    Step(confirm, window=shutdown_seconds, late=shutdown_refused)
)
WORKFLOWS[Kind.SET_BOOTDEV] = Workflow(
    device=BMC,
    first="send",
    steps={"send": Step(set_boot_device), "confirm_boot_device": Step(confirm_boot_device)},
)
