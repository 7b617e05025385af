"""django-q2 entry points: thin, they load and call."""

import logging
import random
import threading
import time
from datetime import datetime

from django.db import close_old_connections
from django_q.conf import Conf

from panel import serving
from provisioning import engine, notifications, services

log = logging.getLogger(__name__)
# How often each worker process runs recovery. A parked operation's deadline, a dead
# worker's lease or a wake-up the broker refused is acted on at most this late.
RECOVERY_SECONDS = 5
_recovery_started = False  # in this process


def run_operation(operation_id: int) -> None:
    engine.run(operation_id)


def mail_operation_ended(operation_id: int) -> str:
    return f"mailed {notifications.send(operation_id)} people"


def sync_power_states() -> str:
    round_ = services.sync_power_states()
    return f"queued {len(round_.bmc_ids)} due BMCs in {len(round_.chunks())} chunks"


def sync_power_chunk(began: datetime, bmc_ids: list[int]) -> str:
    report = services.sync_power_chunk(began=began, bmc_ids=bmc_ids)
    return (
        f"polled {report.polled} BMCs in {report.seconds:.2f} s, {report.failed} failed, "
        f"{len(report.drifted)} drifted, {len(report.to_restore)} restored"
    )


def sync_network_states() -> str:
    report = services.sync_network_states()
    return (
        f"read {report.switches} switches and {report.pdus} PDUs in {report.seconds:.2f} s, "
        f"{report.failed} failed, {len(report.drifted)} ports drifted, "
        f"{len(report.to_suspend) + len(report.to_resume)} servers set back"
    )


def end_expired_rescues() -> str:
    return f"{len(services.end_expired_rescues())} servers leave the rescue system"


def start_recovery(sender, proc_name, **kwargs) -> None:
    """django-q2's post_spawn, in each new worker process: recovery runs in a thread beside
    the worker's tasks. A schedule cannot: django-q2 looks at schedules every 30 s, at most
    once a minute each; a task that sleeps and queues itself would hold a worker.

    django-q2's sync mode runs a task in the caller's process and sends post_spawn there for
    each task: no recovery is started there (it belongs to worker processes), and never a
    second one in a process."""
    global _recovery_started
    if Conf.SYNC or _recovery_started:
        return
    _recovery_started = True
    threading.Thread(target=_recover_forever, daemon=True, name="metalpanel-recovery").start()


def settle_garbage_collector(sender, proc_name, **kwargs) -> None:
    """django-q2's post_spawn: a worker process settles its collector as a web process does
    (a power sweep chunk spent a quarter of its CPU in the collector's passes). Not in sync
    mode, where post_spawn is sent in the caller's process for every task."""
    if not Conf.SYNC:
        serving.settle_garbage_collector()


def _recover_forever() -> None:
    time.sleep(random.uniform(0, RECOVERY_SECONDS))  # the workers' passes spread out
    while True:
        close_old_connections()  # a connection the database dropped is replaced here
        try:
            engine.recover()
        except Exception:  # whatever failed, this thread must live on: it is the only recovery
            log.exception("Recovery failed this time; it tries again shortly.")
        time.sleep(RECOVERY_SECONDS)
