"""Runs operations: claim with a lease, run steps, record each one before it acts.

What an operation does is its workflow's (provisioning.workflows): its steps, windows,
cancel rule and clean-up, and the device it acts through. The engine knows no kinds.

A worker claims an operation by taking its lease (a conditional UPDATE), so two
workers never run one operation at once. The lease is renewed while it runs; if
the worker dies, the lease runs out and `recover()` queues the operation again,
and the next worker resumes at the recorded step, with that step's window again
(time spent orphaned does not count against a step; the operation's overall
deadline still bounds it). Finishing is a conditional UPDATE on the lease too, so
an operation ends exactly once. A wake-up that cannot be queued (broker down) or
cannot claim (a lease still holds it) is not dropped: `retry_at` tells `recover()`
when to queue it again.
"""

import logging
import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from redis.exceptions import RedisError

from panel import audit
from panel.broker import queue_task
from provisioning import events, workflows
from provisioning.devices import DeviceError
from provisioning.models import BootTicket, Operation, OperationEvent
from provisioning.workflows.base import Done, Next, Park, StepFailed, Workflow

log = logging.getLogger(__name__)
State = Operation.State
RUN_TASK = "provisioning.tasks.run_operation"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_length() -> timedelta:
    return timedelta(seconds=settings.PANEL_OPERATION_LEASE_SECONDS)


def enqueue(operation_id: int) -> None:
    """Hand the operation to a worker once the current transaction has committed."""
    transaction.on_commit(lambda: _queue(operation_id, f"operation-{operation_id}"))


def _queue(operation_id: int, task_name: str) -> bool:
    """Put the task on the broker; if the broker is down the operation (already committed)
    is marked for `recover()`, so the request that started it still answers 202."""
    try:
        queue_task(RUN_TASK, operation_id, task_name=task_name)
    except RedisError as exc:
        log.error(
            "Could not queue operation %s (%s: %s); recovery queues it when the broker answers.",
            operation_id,
            type(exc).__name__,
            exc,
        )
        Operation.objects.filter(pk=operation_id, state__in=Operation.ACTIVE_STATES).update(
            retry_at=timezone.now()
        )
        return False
    return True


def note(op: Operation, message: str, level: str = OperationEvent.Level.INFO) -> None:
    OperationEvent.objects.create(operation=op, step=op.step, level=level, message=message)


def claim(operation_id: int, worker: str) -> Operation | None:
    """Take the operation, or None. Held by a live lease, it is marked to be queued again
    when that lease ends (the holder may park it without seeing what this wake-up brings)."""
    now = timezone.now()
    ours = dict(
        state=State.RUNNING,
        lease_owner=worker,
        lease_expires_at=now + lease_length(),
        attempts=F("attempts") + 1,
        retry_at=None,
        updated_at=now,
    )
    active = Operation.objects.filter(pk=operation_id, state__in=Operation.ACTIVE_STATES)
    # Queued, or parked between steps: nobody holds it. Else only a lease that ran out (its
    # worker died) may be taken over.
    if active.filter(lease_expires_at__isnull=True).update(**ours):
        resumed = False
    elif active.filter(lease_expires_at__lt=now).update(**ours):
        resumed = True
    else:
        active.filter(lease_expires_at__gte=now).update(retry_at=F("lease_expires_at"))
        return None
    op = Operation.objects.select_related(
        "server__bmc", "server__owner", "cancel_requested_by"
    ).get(pk=operation_id)
    if op.started_at is None:  # its overall time counts from here: not queue time
        op.started_at = now
        op.overall_deadline = now + timedelta(seconds=overall_window(op))
        op.save(update_fields=["started_at", "overall_deadline", "updated_at"])
    if resumed:
        log.warning("Operation %s resumed at step %r by %s", op.pk, op.step, worker)
        note(op, f"Resumed at step '{op.step}' (attempt {op.attempts}).", "warning")
        if op.step:
            _write(op, worker, deadline=_step_deadline(op, workflows.for_kind(op.kind), op.step))
    return op


def _mine(op: Operation, worker: str):
    return Operation.objects.filter(pk=op.pk, lease_owner=worker, state=State.RUNNING)


class LeaseLost(Exception):
    """Another worker took the operation over; stop without touching it."""


def _write(op: Operation, worker: str, **fields) -> None:
    """Change the operation (row and object) while this worker holds it, else stop."""
    fields = {**fields, "updated_at": timezone.now()}
    if not _mine(op, worker).update(**fields):
        raise LeaseLost(op.pk)
    for name, value in fields.items():
        setattr(op, name, value)


def _save_progress(op: Operation, worker: str, **fields) -> None:
    _write(op, worker, lease_expires_at=timezone.now() + lease_length(), **fields)


def _finish(
    op: Operation,
    workflow: Workflow,
    worker: str,
    state: str,
    message: str,
    result: dict | None = None,
) -> None:
    fields = dict(
        state=state,
        finished_at=timezone.now(),
        lease_owner="",
        lease_expires_at=None,
        params=op.params_after_end(),
    )
    if state == State.SUCCEEDED:
        fields.update(progress=100, result=result or {})
    else:
        fields["error"] = message
    with transaction.atomic():
        _write(op, worker, **fields)
        level = (
            OperationEvent.Level.INFO if state == State.SUCCEEDED else OperationEvent.Level.ERROR
        )
        note(op, message, level)
        BootTicket.objects.filter(operation=op).revoke()
        if state == State.SUCCEEDED:
            workflow.succeeded(op)
        audit.record(
            actor=None,
            action=f"operation.{state}",
            target=op.server,
            operation=op.pk,
            kind=op.kind,
            **({"error": message} if state != State.SUCCEEDED else {}),
        )
        events.operation_ended(op)


def overall_window(op: Operation) -> float:
    """Seconds an operation may take in all: every step's window once, plus two leases for
    takeovers after a worker died. (An install with a manual reboot: a day and a bit.)"""
    workflow = workflows.for_kind(op.kind)
    steps = sum(workflow.window(op, step) for step in workflow.steps)
    return steps + 2 * settings.PANEL_OPERATION_LEASE_SECONDS


def _step_deadline(op: Operation, workflow: Workflow, step: str):
    ends = timezone.now() + timedelta(seconds=workflow.window(op, step))
    return min(ends, op.overall_deadline) if op.overall_deadline else ends


def run(operation_id: int) -> None:
    """Advance one operation as far as it goes within the inline budget."""
    worker = worker_name()
    op = claim(operation_id, worker)
    if op is None:
        return
    try:
        _advance(op, worker)
    except LeaseLost:
        log.warning("Operation %s was taken over by another worker", operation_id)


def _advance(op: Operation, worker: str) -> None:
    workflow = workflows.for_kind(op.kind)
    device = workflow.device.connect(op.server)
    if not op.step:
        first = workflow.first
        deadline = _step_deadline(op, workflow, first)
        _save_progress(op, worker, step=first, deadline=deadline, progress=5)
        log.info("Operation %s started by %s", op.pk, worker)
        note(op, "Started.")
    began = time.monotonic()

    def fail(message: str, state: str = State.FAILED) -> None:
        workflow.abandon(op, device.driver)
        _finish(op, workflow, worker, state, message)

    while True:
        if workflow.cancel and _cancel_requested(op):
            op.refresh_from_db(fields=["cancel_requested_by"])
            fail(f"Cancelled by {op.canceller}.", State.CANCELLED)
            return
        if _past_deadline(op, workflow):
            fail(_deadline_message(op, workflow))
            return
        step = workflow.steps[op.step]
        try:
            if step.talks_to_device:
                device.check()
            outcome = step.act(op, device.driver, device.observe)
        except StepFailed as exc:
            fail(str(exc))
            return
        except DeviceError as exc:
            fail(device.failed(exc))
            return
        if isinstance(outcome, Done):
            _finish(op, workflow, worker, State.SUCCEEDED, outcome.message, outcome.result)
            return
        if isinstance(outcome, Next):
            if outcome.message:
                note(op, outcome.message)
            _save_progress(
                op,
                worker,
                step=outcome.step,
                progress=outcome.progress,
                deadline=_step_deadline(op, workflow, outcome.step),
            )
            continue
        if isinstance(outcome, Park):
            _release(op, worker)
            return
        if time.monotonic() - began + outcome.seconds > settings.PANEL_OPERATION_INLINE_SECONDS:
            _release(op, worker)
            enqueue(op.pk)
            return
        time.sleep(outcome.seconds)
        _save_progress(op, worker)


def _release(op: Operation, worker: str) -> None:
    _write(op, worker, lease_owner="", lease_expires_at=None)


def _cancel_requested(op: Operation) -> bool:
    """The owner asked to cancel (services.cancel_operation) since this worker loaded it."""
    return Operation.objects.filter(pk=op.pk, cancel_requested_at__isnull=False).exists()


def _past_deadline(op: Operation, workflow: Workflow) -> bool:
    """The step ran out of time, unless the outcome was reported before the worker saw it."""
    if not op.deadline or timezone.now() <= op.deadline:
        return False
    return not workflow.outcome_reported(op)


def _deadline_message(op: Operation, workflow: Workflow) -> str:
    if op.overall_deadline and timezone.now() > op.overall_deadline:
        return (
            f"The operation did not finish before its overall deadline "
            f"({overall_window(op):g} s); it was stopped at step '{op.step}'."
        )
    late = workflow.steps[op.step].late
    if late:
        return late(op)
    return f"Step '{op.step}' did not finish before its deadline; the operation was stopped."


def recover() -> list[int]:
    """Queue again the operations nobody holds that need a worker: its worker died (the
    lease ran out), parked past its deadline, a wake-up was refused or not queued
    (`retry_at`), or queued so long ago that its task was lost. Safe to run in several
    processes at once: each operation is queued by one of them, then not again for a lease.
    """
    now = timezone.now()
    due = (
        Q(state=State.RUNNING, lease_expires_at__lt=now)
        | Q(state=State.RUNNING, lease_expires_at__isnull=True, deadline__lt=now)
        | Q(retry_at__isnull=False)
        | Q(state=State.QUEUED, created_at__lt=now - lease_length())
    )
    unheld = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    not_yet = Q(retry_at__gt=now)
    candidates = (
        Operation.objects.active()
        .filter(due & unheld)
        .exclude(not_yet)
        .values_list("pk", "retry_at")
    )
    queued = []
    for operation_id, retry_at in candidates:
        mine = Operation.objects.filter(pk=operation_id, retry_at=retry_at).update(
            retry_at=now + lease_length()
        )
        if not mine:
            continue  # another process queued it just now
        if not _queue(operation_id, f"operation-{operation_id}-recovered"):
            break  # the broker is down; the next pass tries again
        queued.append(operation_id)
    return queued
