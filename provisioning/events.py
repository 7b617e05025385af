"""Webhook events about operations (webhooks.events.publish), with their server and owner;
and, when one ends, the mail to its people (provisioning.notifications)."""

from inventory.events import server_data
from provisioning import notifications
from provisioning.models import Operation
from webhooks.events import publish


def operation_data(op: Operation) -> dict:
    return {
        **server_data(op.server),
        "operation": {
            "id": op.pk,
            "kind": op.kind,
            "state": op.state,
            "error": op.error,
            "requested_by": op.requested_by_id,
            "finished_at": op.finished_at.isoformat() if op.finished_at else None,
        },
    }


def operation_ended(op: Operation) -> None:
    """`operation.succeeded|failed|cancelled`, in the transaction that ended it (by a worker,
    or a cancel before any worker took it); the mail is queued after that commit."""
    publish(f"operation.{op.state}", lambda: operation_data(op))
    notifications.operation_ended(op)


def install_progress(op: Operation, percent: int, message: str) -> None:
    """`install.progress` (opt-in): what the installer reported, as it reported it."""
    publish(
        "install.progress",
        lambda: {**operation_data(op), "progress": percent, "message": message},
    )
