"""Requests that start or stop operations. Each is checked, recorded and audited here."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import Server
from panel import audit
from panel.exceptions import Conflict, NotAllowed
from panel.models import User
from provisioning import engine
from provisioning.bmc import BOOT_DEVICES, POWER_ACTIONS
from provisioning.models import Operation
from provisioning.power import KIND_FOR_ACTION


def _check_may_operate(actor: User, server: Server) -> None:
    if not (actor.is_admin or server.owner_id == actor.pk):
        raise NotAllowed("Only the server's owner or hosting staff may do this.")
    if server.suspended:
        raise Conflict(f"{server.name} is suspended; power and boot changes are refused.")
    if not hasattr(server, "bmc"):
        raise Conflict(f"{server.name} has no BMC enrolled.")


def _start(*, actor: User | None, server: Server, kind: str, params: dict) -> Operation:
    """Create the operation (at most one active per server, enforced by the database)."""
    try:
        with transaction.atomic():
            op = Operation.objects.create(
                server=server, kind=kind, params=params, requested_by=actor
            )
    except IntegrityError:
        active = Operation.objects.active().filter(server=server).first()
        if active is None:  # it ended between the insert and this read
            raise Conflict(f"{server.name} was busy; retry.") from None
        raise Conflict(
            f"{server.name} already has an active operation #{active.pk} "
            f"({active.get_kind_display().lower()}, {active.state}).",
            operation=active.pk,
        ) from None
    audit.record(
        actor=actor,
        action=f"operation.request.{kind}",
        target=server,
        operation=op.pk,
        params=params,
    )
    engine.enqueue(op.pk)
    return op


@transaction.atomic
def request_power(
    *, actor: User, server: Server, action: str, timeout: int | None = None
) -> Operation:
    """Queue a power action; it succeeds only when the BMC reports the resulting state."""
    if action not in POWER_ACTIONS:
        raise ValueError(action)
    _check_may_operate(actor, server)
    params = {"action": action}
    if timeout is not None and action == "soft_off":
        params["timeout"] = timeout
    return _start(actor=actor, server=server, kind=KIND_FOR_ACTION[action], params=params)


@transaction.atomic
def request_boot_device(
    *, actor: User, server: Server, device: str, persistent: bool = False
) -> Operation:
    if device not in BOOT_DEVICES:
        raise ValueError(device)
    _check_may_operate(actor, server)
    return _start(
        actor=actor,
        server=server,
        kind=Operation.Kind.SET_BOOTDEV,
        params={"device": device, "persistent": persistent},
    )


def restore_power_state(*, server: Server, state: str) -> Operation | None:
    """Drift policy `enforce`: bring the server back to the last requested state."""
    try:
        return _start(
            actor=None, server=server, kind=KIND_FOR_ACTION[state], params={"action": state}
        )
    except Conflict:
        return None  # an operation is already running on it; the next sweep looks again


@transaction.atomic
def cancel_operation(*, actor: User, operation: Operation) -> Operation:
    """Cancel an operation that no worker has started; power commands cannot be taken back."""
    if not (actor.is_admin or operation.server.owner_id == actor.pk):
        raise NotAllowed("Only the server's owner or hosting staff may cancel its operations.")
    cancelled = Operation.objects.filter(pk=operation.pk, state=Operation.State.QUEUED).update(
        state=Operation.State.CANCELLED,
        finished_at=timezone.now(),
        error="Cancelled before it started.",
    )
    operation.refresh_from_db()
    if not cancelled:
        if operation.state == Operation.State.RUNNING:
            raise Conflict(
                f"Operation #{operation.pk} ({operation.get_kind_display().lower()}) is already "
                "running; a command sent to the BMC cannot be taken back."
            )
        raise Conflict(f"Operation #{operation.pk} has already ended ({operation.state}).")
    engine.note(operation, f"Cancelled by {actor.email}.", "warning")
    audit.record(
        actor=actor, action="operation.cancel", target=operation.server, operation=operation.pk
    )
    return operation
