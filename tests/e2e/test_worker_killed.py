"""A worker killed with SIGKILL mid-operation: the operation resumes and ends exactly once."""

import time

import pytest
from django.db import connection
from django_q.brokers import get_broker

from panel.models import AuditEvent
from provisioning import engine, services
from provisioning.models import Operation
from tests.e2e.workers import Qcluster, wait_until

LEASE_SECONDS = 3


def resumed_and_finished(op_id: int, step: str, timeout: float = 60, **settings) -> Operation:
    """A second worker cluster's own recovery takes the operation over and ends it: it
    succeeds on the second attempt, resumed at `step`, its chassis command sent once."""
    second = Qcluster(**settings)
    try:
        wait_until(lambda: Operation.objects.get(pk=op_id).state != "running", timeout=timeout)
    finally:
        second.kill()  # done with it; a graceful stop takes django-q2 up to 20 s
    finished = Operation.objects.get(pk=op_id)
    assert finished.state == "succeeded", finished.error
    assert finished.attempts == 2
    messages = list(finished.events.values_list("message", flat=True))
    assert any(m.startswith(f"Resumed at step '{step}'") for m in messages)
    assert sum(m.startswith("Sent chassis command") for m in messages) == 1
    succeeded = AuditEvent.objects.filter(action="operation.succeeded", detail__operation=op_id)
    assert succeeded.count() == 1
    return finished


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_nothing_stuck(lab_server, simlab, customer):
    get_broker().purge_queue()
    simlab.change(lab_server.lab_port, power="on", acpi_responsive=False)
    worker_settings = dict(
        PANEL_OPERATION_LEASE_SECONDS=LEASE_SECONDS,
        PANEL_BMC_TIMEOUT=3,
        PANEL_SOFT_SHUTDOWN_SECONDS=120,
    )
    first = Qcluster(**worker_settings)
    try:
        op = services.request_power(actor=customer, server=lab_server, action="soft_off")
        wait_until(lambda: Operation.objects.filter(pk=op.pk, step="confirm").exists())
        first.kill()
    finally:
        first.stop()
    running = Operation.objects.get(pk=op.pk)
    assert running.state == "running"
    simlab.change(lab_server.lab_port, power="off")  # the OS shut down while no worker watched
    time.sleep(LEASE_SECONDS + 0.5)
    resumed_and_finished(op.pk, "confirm", **worker_settings)
    assert engine.recover() == []


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (the multi-worker deployment)"
)
def test_a_worker_killed_in_a_bmc_step_resumes_with_the_default_lease_and_deadlines(
    lab_server, simlab, settings
):
    """The slow one (about 100 s): the lease (90 s) outlasts the step's own window (2 x 20 s),
    so the resumed step must get its window again."""
    assert (settings.PANEL_OPERATION_LEASE_SECONDS, settings.PANEL_BMC_TIMEOUT) == (90, 20)
    get_broker().purge_queue()
    simlab.change(lab_server.lab_port, power="off", silent=True)  # read_state waits on it
    first = Qcluster()
    try:
        op = services.request_power(actor=lab_server.owner, server=lab_server, action="on")
        wait_until(lambda: Operation.objects.filter(pk=op.pk, step="read_state").exists())
        first.kill()
    finally:
        first.stop()
    simlab.change(lab_server.lab_port, silent=False)
    resumed_and_finished(op.pk, "read_state", timeout=150)
    assert simlab.machine(lab_server.lab_port)["power_on_count"] == 1
