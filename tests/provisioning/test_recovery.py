"""Recovery: operations whose worker died, whose wake-up was lost or refused, or whose
deadline passed while nobody held them, resume or end as they should, and no more often."""

import re
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.signals import post_spawn

from inventory.models import Bmc
from provisioning import engine, services, tasks
from provisioning.models import BootTicket, Operation
from provisioning.tasks import run_operation

DEAD_WORKER = "gone-host:4242"


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def died_in(op: Operation, step: str, *, lease_ends=None, **fields) -> None:
    """What a worker SIGKILLed in `step` leaves behind once the lease (90 s) has run out: the
    step and its deadline recorded before it acted, a lease nobody renews. (The real kill is
    tests/e2e/test_worker_killed.py; here the row is set as that run leaves it.)"""
    Operation.objects.filter(pk=op.pk).update(
        state="running",
        step=step,
        started_at=ago(100),
        deadline=ago(60),
        attempts=1,
        lease_owner=DEAD_WORKER,
        lease_expires_at=lease_ends or ago(5),
        **fields,
    )


def finished(op: Operation) -> Operation:
    run_operation(op.pk)
    return Operation.objects.get(pk=op.pk)


@pytest.mark.parametrize(
    ("action", "step", "power"),
    [("on", "read_state", "off"), ("on", "send", "off"), ("off", "confirm", "on")],
)
def test_a_bmc_step_resumed_after_its_worker_died_gets_its_window_again(
    lab_server, simlab, customer, action, step, power
):
    simlab.change(lab_server.lab_port, power=power)
    op = services.request_power(actor=customer, server=lab_server, action=action)
    died_in(op, step)
    if step == "confirm":  # the dead worker had sent the command; the server obeyed
        simlab.change(lab_server.lab_port, power="off")
    op = finished(op)
    assert op.state == "succeeded", op.error
    assert op.attempts == 2


@pytest.mark.parametrize("step", ["set_network_boot", "reboot"])
def test_an_installs_bmc_step_resumed_after_its_worker_died_gets_its_window_again(
    lab_server, customer, alma, key, step
):
    op = services.start_install(actor=customer, server=lab_server, template=alma, ssh_keys=[key])
    died_in(op, step)  # its deadline passed while the lease ran out
    op = finished(op)
    assert (op.state, op.step, op.attempts) == ("running", "wait_pxe", 2), op.error
    assert op.deadline > timezone.now()  # parked with wait_pxe's own window


def test_a_resumed_step_stops_at_the_operations_overall_deadline(lab_server, simlab, customer):
    op = services.request_power(actor=customer, server=lab_server, action="on")
    died_in(op, "read_state", overall_deadline=ago(1))
    op = finished(op)
    assert op.state == "failed"
    assert "overall deadline" in op.error


def test_each_kind_has_an_overall_deadline_beyond_its_steps_windows(
    lab_server, customer, alma, key, settings
):
    power_on = services.request_power(actor=customer, server=lab_server, action="on")
    power_on = engine.claim(power_on.pk, "a-worker")
    seconds = (power_on.overall_deadline - power_on.started_at).total_seconds()
    steps = 2 * 2 * settings.PANEL_BMC_TIMEOUT + settings.PANEL_POWER_CONFIRM_SECONDS
    assert seconds == steps + 2 * settings.PANEL_OPERATION_LEASE_SECONDS
    Operation.objects.filter(pk=power_on.pk).update(state="succeeded")
    install = services.start_install(
        actor=customer, server=lab_server, template=alma, ssh_keys=[key]
    )
    install = engine.claim(install.pk, "a-worker")
    seconds = (install.overall_deadline - install.started_at).total_seconds()
    assert seconds > settings.PANEL_PXE_BOOT_SECONDS + settings.PANEL_INSTALL_SECONDS


def test_time_spent_queued_does_not_count_against_the_overall_deadline(
    lab_server, simlab, customer, settings
):
    """A broker outage or a backlog longer than an operation's whole window: it still runs."""
    settings.PANEL_BMC_TIMEOUT = settings.PANEL_POWER_CONFIRM_SECONDS = 1
    settings.PANEL_OPERATION_LEASE_SECONDS = 0.5
    simlab.change(lab_server.lab_port, power="off")
    op = services.request_power(actor=customer, server=lab_server, action="on")
    time.sleep(engine.overall_window(op) + 0.5)  # queued all that time
    op = finished(op)
    assert op.state == "succeeded", op.error


def boot_and_fetch_config(client, server) -> str:
    script = client.get("/boot/ipxe", {"mac": server.mac}).content.decode()
    secret = re.search(r"/boot/config/([\w-]+)", script).group(1)
    assert client.get(f"/boot/config/{secret}").status_code == 200
    return secret


def installing(owner, client, server, template, key) -> tuple[Operation, str]:
    op = services.start_install(actor=owner, server=server, template=template, ssh_keys=[key])
    run_operation(op.pk)
    secret = boot_and_fetch_config(client, server)
    op = finished(op)
    assert (op.state, op.step) == ("running", "installing")
    return op, secret


def test_an_installers_done_reaching_a_dead_workers_install_wins_over_its_deadline(
    customer, client, lab_server, simlab, alma, key
):
    op, secret = installing(customer, client, lab_server, alma, key)
    lease_ends = timezone.now() + timedelta(seconds=90)
    died_in(op, "installing", lease_ends=lease_ends)
    Operation.objects.filter(pk=op.pk).update(deadline=timezone.now())  # and the step ran out
    assert client.post(f"/boot/events/{secret}", {"event": "done"}).status_code == 202
    op = finished(op)  # the boot endpoint's wake-up: the dead worker's lease still holds it
    assert op.state == "running"
    assert op.retry_at == lease_ends  # not dropped: queued again once the lease has run out
    Operation.objects.filter(pk=op.pk).update(lease_expires_at=ago(1), retry_at=ago(1))  # it has
    assert op.pk in engine.recover()
    op = finished(op)
    assert op.state == "succeeded", op.error
    assert simlab.machine(lab_server.lab_port)["boot_device"] == "disk"


def test_a_wake_up_refused_by_a_live_worker_is_retried_when_that_worker_parks_it(
    customer, client, lab_server, alma, key
):
    op = services.start_install(actor=customer, server=lab_server, template=alma, ssh_keys=[key])
    op = finished(op)
    assert (op.state, op.step) == ("running", "wait_pxe")
    # A worker holds it, about to park it: the machine boots and wakes the operation now.
    holder_lease = timezone.now() + timedelta(seconds=1)
    Operation.objects.filter(pk=op.pk).update(lease_owner="busy:1", lease_expires_at=holder_lease)
    client.get("/boot/ipxe", {"mac": lab_server.mac})
    op = finished(op)
    assert op.step == "wait_pxe"
    Operation.objects.filter(pk=op.pk).update(lease_owner="", lease_expires_at=None)  # parked
    assert op.pk not in engine.recover()  # not before the holder's lease has ended
    time.sleep(max(0, (holder_lease - timezone.now()).total_seconds()) + 0.05)
    assert engine.recover() == [op.pk]
    assert engine.recover() == []  # queued once, not at every pass
    assert finished(op).step == "installing"


def test_a_parked_operation_is_queued_only_once_its_deadline_has_passed(
    customer, lab_server, alma, key
):
    op = services.start_install(actor=customer, server=lab_server, template=alma, ssh_keys=[key])
    op = finished(op)
    assert (op.state, op.step, op.lease_expires_at) == ("running", "wait_pxe", None)
    assert engine.recover() == []
    Operation.objects.filter(pk=op.pk).update(deadline=ago(1))
    assert engine.recover() == [op.pk]
    assert finished(op).state == "failed"


def test_an_operation_on_a_bmc_known_unreachable_gives_up_after_one_short_probe(
    owner_api, lab_server, simlab, customer, settings
):
    simlab.change(lab_server.lab_port, silent=True)
    Bmc.objects.filter(server=lab_server).update(reachable=False, consecutive_failures=2)
    op = services.request_power(actor=customer, server=lab_server, action="on")
    began = time.monotonic()
    op = finished(op)
    assert time.monotonic() - began < settings.PANEL_BMC_PROBE_SECONDS + 1
    assert op.state == "failed"
    assert "did not answer a" in op.error and "probe" in op.error


def test_a_bmc_that_came_back_answers_the_probe_and_the_operation_runs(
    lab_server, simlab, customer
):
    Bmc.objects.filter(server=lab_server).update(reachable=False, consecutive_failures=5)
    op = finished(services.request_power(actor=customer, server=lab_server, action="on"))
    assert op.state == "succeeded", op.error
    assert Bmc.objects.get(server=lab_server).reachable


def test_a_lost_task_of_a_queued_operation_is_queued_again_by_recovery(lab_server, customer):
    op = services.request_power(actor=customer, server=lab_server, action="on")
    assert engine.recover() == []  # its task is (presumably) in the queue
    Operation.objects.filter(pk=op.pk).update(retry_at=timezone.now())  # enqueue had failed
    assert engine.recover() == [op.pk]


def test_customers_logs_do_not_name_the_worker(lab_server, simlab, customer):
    simlab.change(lab_server.lab_port, power="off")
    op = services.request_power(actor=customer, server=lab_server, action="on")
    died_in(op, "read_state")
    op = finished(op)
    messages = " ".join(op.events.values_list("message", flat=True))
    assert "Resumed at step 'read_state'" in messages
    assert socket.gethostname() not in messages and DEAD_WORKER not in messages


@pytest.mark.parametrize("ending", ["succeeded", "failed", "cancelled", "cancelled_queued"])
def test_the_password_hash_is_gone_once_the_install_ends(
    customer, client, lab_server, simlab, alma, key, ending
):
    op = services.start_install(
        actor=customer, server=lab_server, template=alma, ssh_keys=[key], password="Correct-Horse-9"
    )
    assert op.params["password_hash"].startswith("$6$")
    if ending == "cancelled_queued":
        services.cancel_operation(actor=customer, operation=op)
    else:
        run_operation(op.pk)
    if ending == "cancelled":
        services.cancel_operation(actor=customer, operation=op)
    if ending in ("succeeded", "failed"):
        secret = boot_and_fetch_config(client, lab_server)
        event = "done" if ending == "succeeded" else "failed"
        client.post(f"/boot/events/{secret}", {"event": event})
    op = finished(op)
    assert op.state == ending.removesuffix("_queued")
    assert "password_hash" not in op.params
    assert op.params["os_name"] == "AlmaLinux 9"  # the rest of the record stays


@pytest.mark.parametrize(("who", "says"), [("admin", "hosting staff"), ("customer", "owner")])
def test_a_cancel_says_who_asked_for_it(
    request, customer, client, lab_server, alma, key, who, says
):
    op = services.start_install(actor=customer, server=lab_server, template=alma, ssh_keys=[key])
    run_operation(op.pk)
    services.cancel_operation(actor=request.getfixturevalue(who), operation=op)
    op = finished(op)
    assert op.state == "cancelled"
    messages = list(op.events.values_list("message", flat=True))
    assert any(says in message for message in messages[-3:]), messages
    assert not any("@" in message for message in messages)  # no one's e-mail address
    assert BootTicket.objects.get(operation=op).state == "revoked"


def test_a_cancel_before_the_start_says_who_asked_for_it(admin, lab_server, customer):
    op = services.request_power(actor=customer, server=lab_server, action="on")
    op = services.cancel_operation(actor=admin, operation=op)
    assert op.error == "Cancelled by hosting staff before it started."


def test_recovery_starts_once_per_worker_process_and_never_in_sync_mode(monkeypatch):
    """django-q2's sync mode sends post_spawn in the caller's process for every task: a
    recovery thread there would queue other processes' operations on this process's broker."""
    passes = []
    monkeypatch.setattr(tasks, "_recover_forever", lambda: passes.append("recovery"))
    monkeypatch.setattr(tasks, "_recovery_started", False)
    monkeypatch.setattr(Conf, "SYNC", True)
    post_spawn.send(sender="django_q", proc_name="MainProcess")
    monkeypatch.setattr(Conf, "SYNC", False)
    for _ in range(3):
        post_spawn.send(sender="django_q", proc_name="Process-1:1")
    time.sleep(0.2)  # the thread's target ran
    assert passes == ["recovery"]
