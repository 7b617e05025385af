"""A worker killed with SIGKILL mid-operation: the operation resumes and ends exactly once."""

import time

import pytest
from django_q.brokers import get_broker

from panel.models import AuditEvent
from provisioning import engine, services
from provisioning.models import Operation
from tests.e2e.workers import Qcluster, wait_until

LEASE_SECONDS = 3


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
    second = Qcluster(**worker_settings)
    try:
        assert engine.recover() == [op.pk]
        wait_until(lambda: Operation.objects.get(pk=op.pk).state != "running", timeout=60)
    finally:
        second.stop()
    finished = Operation.objects.get(pk=op.pk)
    assert finished.state == "succeeded", finished.error
    assert finished.attempts == 2
    messages = list(finished.events.values_list("message", flat=True))
    assert any(m.startswith("Resumed at step 'confirm'") for m in messages)
    assert sum(m.startswith("Sent chassis command") for m in messages) == 1
    assert (
        AuditEvent.objects.filter(action="operation.succeeded", detail__operation=op.pk).count()
        == 1
    )
    assert engine.recover() == []
