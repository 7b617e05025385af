"""Power and boot-device steps: what each operation kind does, one idempotent step at a time.

A step gets the operation and a driver, and returns what happens next. Steps that
act (send a chassis command) may run twice if a worker dies between acting and
recording: sending "on" to a server that is on, or a second reset, is harmless.
"""

from dataclasses import dataclass

from django.conf import settings

from provisioning.bmc import BmcError, BmcUnreachable
from provisioning.models import Operation

Kind = Operation.Kind


@dataclass(frozen=True)
class Next:
    step: str
    progress: int
    message: str = ""


@dataclass(frozen=True)
class Wait:
    """Try the same step again after `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Park:
    """Release the operation until something outside queues it again (a machine's report,
    or recovery, every few seconds in each worker); no worker waits with it."""


@dataclass(frozen=True)
class Done:
    message: str
    result: dict


class StepFailed(Exception):
    """The operation cannot succeed; the message says why, for a person."""


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


def confirm_window(kind: str, params: dict) -> float:
    """Seconds a power operation may take to reach its state once the command is sent."""
    if kind == Kind.SOFT_SHUTDOWN:
        return float(params.get("timeout", settings.PANEL_SOFT_SHUTDOWN_SECONDS))
    return float(settings.PANEL_POWER_CONFIRM_SECONDS)


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


POWER_STEPS = {"read_state": read_state, "send": send, "confirm": confirm}
STEPS = {kind: POWER_STEPS for kind in POWER_PLANS} | {
    Kind.SET_BOOTDEV: {"send": set_boot_device, "confirm_boot_device": confirm_boot_device}
}
FIRST_STEP = {kind: "read_state" for kind in POWER_PLANS} | {Kind.SET_BOOTDEV: "send"}
