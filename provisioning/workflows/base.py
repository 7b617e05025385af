"""What a workflow is made of, and what its steps may return."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provisioning.devices import Device
from provisioning.models import Operation


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


Outcome = Next | Wait | Park | Done
Observe = Callable[[str], str]


@dataclass(frozen=True)
class Step:
    """`act(op, driver, observe)` acts once (acting twice must be harmless) and says what
    comes next, or raises StepFailed or the device's DeviceError."""

    act: Callable[[Operation, Any, Observe], Outcome]
    window: Callable[[Operation], float] | None = None  # seconds; None: one device call's
    late: Callable[[Operation], str] | None = None  # why it failed when its window ran out
    talks_to_device: bool = True
    label: str = ""  # on the progress page, which lists a workflow's steps if all have one


@dataclass(frozen=True)
class CancelRule:
    """Until when a running operation may be cancelled (before a worker starts it, every
    operation may). `take` claims the cancel at once, or returns False when it is too late;
    the operation's worker then stops it and runs the workflow's `abandon`."""

    open: Callable[[Operation], bool]  # whether `take` would now succeed (to offer the button)
    take: Callable[[Operation], bool]
    refusal: Callable[[Operation], str]


def nothing_to_undo(op: Operation, driver) -> None:
    pass


def no_outcome_reported(op: Operation) -> bool:
    return False


def nothing_to_record(op: Operation) -> None:
    pass


@dataclass(frozen=True)
class Workflow:
    """One operation kind: its device, steps and rules, declared in one place."""

    device: Device
    first: str
    steps: dict[str, Step]
    cancel: CancelRule | None = None  # None: not once a worker has started it
    abandon: Callable[[Operation, Any], None] = nothing_to_undo  # after a failure or cancel
    # An outcome the machine has already reported wins over a deadline passed since.
    outcome_reported: Callable[[Operation], bool] = no_outcome_reported
    succeeded: Callable[[Operation], None] = nothing_to_record  # in the finishing transaction
    # Cancelled before a worker started it: what its request created goes (no device call).
    cancelled_before_start: Callable[[Operation], None] = nothing_to_record
    staff_only: bool = False  # only staff start it, and only staff may cancel it
    # On the PXE path: the panel's own script for the agent image, rendered from the boot
    # context, instead of the OS template's config. None: the template's config.
    machine_script: Callable[[Operation, dict], str] | None = None

    def window(self, op: Operation, step: str) -> float:
        window = self.steps[step].window
        return window(op) if window else self.device.call_window()
