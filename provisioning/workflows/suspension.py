"""Suspend and resume: a server's data switch ports shut or opened, confirmed by reading
them back. Setting a port to the state it has is harmless, so a resumed step sets again.

The server's `suspended` flag is billing's intent, set by the request
(services.request_suspend / request_resume); these workflows make the network match it.
"""

from inventory.events import server_data
from provisioning.models import Operation
from provisioning.workflows.base import Done, Next, Step, StepFailed, Workflow
from provisioning.workflows.switch_ports import SWITCH_PORTS
from webhooks.events import publish

Kind = Operation.Kind
WANTED = {Kind.SUSPEND: "down", Kind.RESUME: "up"}


def set_ports(op: Operation, ports, observe) -> Next:
    if not ports.ports:
        raise StepFailed("The server has no data switch port connected any more.")
    status = WANTED[op.kind]
    ports.set_admin_status(status)
    return Next("confirm_ports", 60, f"Set {ports.names()} {status}.")


def confirm_ports(op: Operation, ports, observe) -> Done:
    status = WANTED[op.kind]
    read = ports.read()
    wrong = [port for port in ports.ports if read.get(port.pk, ("unknown",))[0] != status]
    if wrong:
        raise StepFailed(
            f"The switch reports {ports.names(wrong)} not {status} after it was set; check "
            "the port's configuration on the switch."
        )
    result = {str(port): read[port.pk][0] for port in ports.ports}
    return Done(f"The switch reports {ports.names()} {status}.", {"ports": result})


EVENTS = {Kind.SUSPEND: "server.suspended", Kind.RESUME: "server.resumed"}


def announce(op: Operation) -> None:
    """Billing hears a suspension or resumption once the network matches it."""

    def data() -> dict:
        reason = op.params.get("reason", "") if op.kind == Kind.SUSPEND else ""
        return {**server_data(op.server), "reason": reason, "operation": op.pk}

    publish(EVENTS[op.kind], data)


def _workflow() -> Workflow:
    steps = {"set_ports": Step(set_ports), "confirm_ports": Step(confirm_ports)}
    return Workflow(
        device=SWITCH_PORTS, first="set_ports", steps=steps, staff_only=True, succeeded=announce
    )


WORKFLOWS = {Kind.SUSPEND: _workflow(), Kind.RESUME: _workflow()}
