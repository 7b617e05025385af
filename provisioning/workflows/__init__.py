"""Each operation kind is a workflow, declared in one place; the engine only runs them.

A workflow (`base.Workflow`) names its device, its first step and its steps. A step is
`act(op, driver, observe) -> Next | Wait | Park | Done` (or it raises StepFailed or a
DeviceError): it acts once, and acting twice is harmless. `driver` is the one the
device chose for this server; `observe(reading)` records a state read from the device
and returns it. Beside its steps a workflow says each step's window and deadline
message, whether and until when a running operation may be cancelled (`CancelRule`),
what to undo after a failure or cancel, whether an outcome already reported wins over a
passed deadline, what to record on success, what goes when it is cancelled before a
worker started it, and (on the PXE path) the panel's own script for the agent image.

A device kind (`provisioning.devices.Device`) has a module here (`bmc.py`,
`switch_ports.py`, `pdu_outlets.py`); its workflows are a module of their own whose
WORKFLOWS are added below.
"""

from provisioning.workflows import imaging, pdu, power, pxe, rescue, suspension
from provisioning.workflows.base import Workflow

REGISTRY: dict[str, Workflow] = {
    **power.WORKFLOWS,
    **pxe.WORKFLOWS,
    **suspension.WORKFLOWS,
    **pdu.WORKFLOWS,
    **imaging.WORKFLOWS,
    **rescue.WORKFLOWS,
}


def for_kind(kind: str) -> Workflow:
    return REGISTRY[kind]
