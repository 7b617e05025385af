"""PDU outlet power: on, off, and a cycle (off, confirmed, held off, on, confirmed), the hard
power of last resort when a BMC hangs. Switching an outlet to the state it has is
harmless, so a resumed step switches again.

After an outlet cuts the power, the BMC's last power state means nothing: it is set to
unknown, so the power sync records what it reads next without calling it drift, and an
outlet turned off is the state the `enforce` policy keeps.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from inventory.models import Bmc
from provisioning.models import Operation
from provisioning.workflows.base import Done, Next, Step, StepFailed, Wait, Workflow
from provisioning.workflows.pdu_outlets import PDU_OUTLETS

Kind = Operation.Kind
POLL_SECONDS = 1.0


def _switch(on: bool, then: str, progress: int):
    def act(op: Operation, outlets, observe) -> Next:
        if not outlets.outlets:
            raise StepFailed("The server has no PDU outlet connected any more.")
        outlets.switch(on)
        return Next(then, progress, f"Switched {outlets.names()} {'on' if on else 'off'}.")

    return act


def _confirm(state: str, then: str | None, progress: int):
    def act(op: Operation, outlets, observe) -> Next | Wait | Done:
        read = outlets.read()
        if any(value != state for value in read.values()):
            return Wait(POLL_SECONDS)  # a relay may take a moment; the window bounds it
        message = f"The PDU reports {outlets.names()} {state}."
        if then is None:
            return Done(message, {"outlets": {str(o): read[o.pk] for o in outlets.outlets}})
        return Next(then, progress, message)

    return act


def confirm_seconds(op: Operation) -> float:
    return float(settings.PANEL_POWER_CONFIRM_SECONDS)


def confirm_late(state: str):
    def late(op: Operation) -> str:
        return (
            f"The PDU did not report every outlet {state} within {confirm_seconds(op):g} s; "
            "check the outlets' state on the PDU."
        )

    return late


def off_seconds(op: Operation) -> float:
    return float(op.params["cycle_seconds"])


def hold_seconds(op: Operation) -> float:
    return off_seconds(op) + settings.PANEL_POWER_CONFIRM_SECONDS


def hold_off(op: Operation, outlets, observe) -> Next | Wait:
    """Keep the power off for the PDU's cycle time, counted from this step's start (its
    deadline less its window; a resumed step starts again: a longer off is harmless)."""
    began = op.deadline - timedelta(seconds=hold_seconds(op))
    left = (began - timezone.now()).total_seconds() + off_seconds(op)
    if left > 0:
        return Wait(left)
    return Next("switch_on", 60, f"Kept the power off for {off_seconds(op):g} s.")


def power_state_unknown(op: Operation) -> None:
    changes = {"power_state": Bmc.PowerState.UNKNOWN}
    if op.kind == Kind.PDU_OFF:
        changes["desired_power_state"] = Bmc.PowerState.OFF
    Bmc.objects.filter(server_id=op.server_id).update(**changes)


def _confirm_step(state: str, then: str | None, progress: int) -> Step:
    return Step(_confirm(state, then, progress), window=confirm_seconds, late=confirm_late(state))


def _workflow(first: str, steps: dict) -> Workflow:
    return Workflow(
        device=PDU_OUTLETS,
        first=first,
        steps=steps,
        succeeded=power_state_unknown,
        staff_only=True,
    )


WORKFLOWS = {
    Kind.PDU_ON: _workflow(
        "switch_on",
        {
            "switch_on": Step(_switch(True, "confirm_on", 60)),
            "confirm_on": _confirm_step("on", None, 100),
        },
    ),
    Kind.PDU_OFF: _workflow(
        "switch_off",
        {
            "switch_off": Step(_switch(False, "confirm_off", 60)),
            "confirm_off": _confirm_step("off", None, 100),
        },
    ),
    Kind.PDU_CYCLE: _workflow(
        "switch_off",
        {
            "switch_off": Step(_switch(False, "confirm_off", 25)),
            "confirm_off": _confirm_step("off", "hold_off", 40),
            "hold_off": Step(hold_off, window=hold_seconds, talks_to_device=False),
            "switch_on": Step(_switch(True, "confirm_on", 75)),
            "confirm_on": _confirm_step("on", None, 100),
        },
    ),
}
