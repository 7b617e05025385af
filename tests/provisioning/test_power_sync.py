"""The periodic power-state sweep against simlab BMCs."""

import threading
import time

import pytest
from django.db import connections
from django.utils import timezone
from django_q.brokers import get_broker

from inventory.models import Bmc
from panel.models import AuditEvent
from provisioning import powersync, services
from provisioning.models import Operation, SweepRecord
from tests.concurrency import all_at_once
from tests.factories import make_server


@pytest.fixture
def rack_of_lab_servers(simlab, admin):
    servers = []
    for _ in range(6):
        port = simlab.take_port()
        server = make_server(
            actor=admin,
            bmc={"address": "127.0.0.1", "port": port, "username": "admin", "password": "password"},
        )
        server.lab_port = port
        servers.append(server)
    return servers


def states():
    return dict(Bmc.objects.values_list("server_id", "power_state"))


def reads(simlab, servers) -> list[int]:
    """How often each server's BMC was asked its power state, by simlab's own count."""
    counts = simlab.power_reads()
    return [counts[server.lab_port] for server in servers]


def first_reading() -> None:
    powersync.sweep()
    Bmc.objects.update(next_poll_at=None)


def test_a_sweep_reads_every_bmc_and_records_state_and_suite(rack_of_lab_servers, simlab):
    simlab.change(rack_of_lab_servers[0].lab_port, power="on")
    report = powersync.sweep()
    assert (report.polled, report.failed) == (6, 0)
    assert states()[rack_of_lab_servers[0].pk] == "on"
    assert set(list(states().values())[1:]) <= {"off", "on"}
    assert set(Bmc.objects.values_list("reachable", "cipher_suite")) == {(True, 3)}
    assert powersync.sweep().polled == 0  # nothing is due again before the interval


def test_one_dead_bmc_does_not_delay_the_others(rack_of_lab_servers, simlab):
    simlab.change(rack_of_lab_servers[0].lab_port, silent=True)
    began = time.monotonic()
    report = powersync.sweep()
    assert time.monotonic() - began < 6  # one BMC timeout (3 s), not one per BMC
    assert report.failed == 1
    assert Bmc.objects.filter(reachable=True).count() == 5


def test_a_bmc_that_keeps_failing_is_marked_unreachable_and_backed_off(rack_of_lab_servers, simlab):
    dead = rack_of_lab_servers[0]
    simlab.change(dead.lab_port, silent=True)
    powersync.sweep()
    bmc = Bmc.objects.get(server=dead)
    assert (bmc.consecutive_failures, bmc.reachable) == (1, None)
    Bmc.objects.update(next_poll_at=None)
    powersync.sweep()
    bmc.refresh_from_db()
    assert (bmc.consecutive_failures, bmc.reachable, bmc.power_state) == (2, False, "unknown")
    assert "No answer" in bmc.last_error
    Bmc.objects.filter(pk=bmc.pk).update(next_poll_at=timezone.now())
    powersync.sweep()
    bmc.refresh_from_db()
    healthy_next = Bmc.objects.exclude(pk=bmc.pk).first().next_poll_at
    assert bmc.next_poll_at - timezone.now() > (healthy_next - timezone.now()) * 1.5


def test_a_busy_server_is_polled_even_when_backed_off(rack_of_lab_servers, admin):
    busy = rack_of_lab_servers[0]
    Bmc.objects.update(next_poll_at=timezone.now() + timezone.timedelta(hours=1))
    services.request_power(actor=admin, server=busy, action="on")
    assert powersync.sweep().polled == 1


def test_a_change_no_operation_explains_is_recorded_as_drift(rack_of_lab_servers, simlab):
    server = rack_of_lab_servers[0]
    first_reading()
    simlab.change(server.lab_port, power="on")
    Bmc.objects.update(next_poll_at=None)
    report = powersync.sweep()
    assert report.drifted == [server.pk]
    event = AuditEvent.objects.get(action="server.power_drift")
    assert event.detail == {"previous": "off", "observed": "on"}
    assert not Operation.objects.exists()


def test_enforce_policy_restores_the_requested_state_from_a_chunk(rack_of_lab_servers, simlab):
    server = rack_of_lab_servers[0]
    Bmc.objects.filter(server=server).update(drift_policy="enforce", desired_power_state="off")
    first_reading()
    simlab.change(server.lab_port, power="on")
    Bmc.objects.update(next_poll_at=None)
    round_ = powersync.claim_round()
    report = services.sync_power_chunk(began=round_.began, bmc_ids=round_.bmc_ids[:3])
    assert [bmc.server_id for bmc in report.to_restore] == [server.pk], list(
        Bmc.objects.values_list("power_state", "last_error")
    )
    op = Operation.objects.get(server=server)
    assert (op.kind, op.requested_by) == ("power_off", None)
    assert not SweepRecord.objects.exists()  # half the round is still to be read
    services.sync_power_chunk(began=round_.began, bmc_ids=round_.bmc_ids[3:])
    record = SweepRecord.objects.get(kind="power")
    assert (record.polled, record.failed) == (6, 0)


def test_the_schedule_queues_a_round_in_chunks_that_no_second_planner_takes_again(
    rack_of_lab_servers, settings
):
    settings.PANEL_POWER_SYNC_CHUNK = 4
    broker = get_broker()
    broker.purge_queue()
    try:
        round_ = services.sync_power_states()
        assert broker.queue_size() == 2
    finally:
        broker.purge_queue()
    assert sorted(round_.bmc_ids) == sorted(s.bmc.pk for s in rack_of_lab_servers)
    assert round_.chunks() == [round_.bmc_ids[:4], round_.bmc_ids[4:]]
    assert powersync.claim_round().bmc_ids == []  # the next tick, while the chunks still run
    assert powersync.sweep().polled == 0


def test_a_bmc_read_in_a_round_is_due_again_one_interval_after_the_round_began(
    rack_of_lab_servers, simlab, settings
):
    """So the schedule's next tick reads it again, however long the round's chunks took."""
    simlab.change(rack_of_lab_servers[0].lab_port, silent=True)
    round_ = powersync.claim_round()
    time.sleep(0.5)  # the chunk's worker took it a moment later
    powersync.sweep_chunk(round_.began, round_.bmc_ids)
    interval = timezone.timedelta(seconds=settings.PANEL_POWER_SYNC_SECONDS)
    assert set(Bmc.objects.values_list("next_poll_at", flat=True)) == {round_.began + interval}


@pytest.mark.django_db(transaction=True)
def test_a_chunk_that_starts_late_renews_its_claim_so_no_later_round_takes_its_bmcs(
    rack_of_lab_servers, simlab, settings
):
    """Planned long ago (the queue was deep), the chunk holds its BMCs from when it starts."""
    settings.PANEL_POWER_SYNC_CLAIM_SECONDS = 2
    round_ = powersync.claim_round()
    time.sleep(1)  # the chunk waited in the queue
    claimed = threading.Thread(
        target=lambda: (
            powersync.sweep_chunk(round_.began, round_.bmc_ids),
            connections.close_all(),
        )
    )
    simlab.change(rack_of_lab_servers[0].lab_port, silent=True)  # holds the chunk 3 s
    claimed.start()
    time.sleep(1.5)  # the round's own claim has expired, the chunk's renewal has not
    assert powersync.claim_round().bmc_ids == []
    claimed.join(timeout=30)
    assert reads(simlab, rack_of_lab_servers[1:]) == [1] * 5


def test_an_empty_tick_while_a_round_reads_leaves_the_round_to_report(
    rack_of_lab_servers, settings
):
    """/metrics would otherwise flap to 0 BMCs polled during every long round."""
    broker = get_broker()
    broker.purge_queue()
    try:
        services.sync_power_states()  # a round's chunks wait for the workers
        services.sync_power_states()  # the next tick: nothing due
    finally:
        broker.purge_queue()
    assert not SweepRecord.objects.exists()


def test_an_admin_change_of_a_bmc_keeps_what_the_sweep_wrote_meanwhile(rack_of_lab_servers):
    from inventory.admin import BmcForm

    bmc = rack_of_lab_servers[0].bmc
    form = BmcForm({"address": bmc.address, "port": bmc.port, "username": "root"}, instance=bmc)
    assert form.is_valid(), form.errors
    round_ = powersync.claim_round()  # between the page's load and its save
    form.save()
    stored = Bmc.objects.get(pk=bmc.pk)
    assert (stored.username, stored.sweep_round) == ("root", round_.began)
    assert stored.sweep_claimed_until is not None


def test_each_bmc_of_a_round_is_read_once_whatever_chunk_runs_twice(rack_of_lab_servers, simlab):
    round_ = powersync.claim_round()
    chunks = [round_.bmc_ids[:4], round_.bmc_ids[4:]]
    assert [powersync.sweep_chunk(round_.began, chunk).polled for chunk in chunks] == [4, 2]
    assert powersync.sweep_chunk(round_.began, chunks[0]).polled == 0  # the broker redelivered it
    assert reads(simlab, rack_of_lab_servers) == [1] * 6
    assert not Bmc.objects.filter(sweep_claimed_until__isnull=False).exists()


def test_a_chunk_no_worker_finished_is_read_by_a_later_round_once_its_claim_expires(
    rack_of_lab_servers, simlab, settings
):
    settings.PANEL_POWER_SYNC_CLAIM_SECONDS = 1
    lost = powersync.claim_round()  # its chunk's worker was killed: nobody reads it
    assert len(lost.bmc_ids) == 6
    assert powersync.claim_round().bmc_ids == []
    time.sleep(1.1)
    assert powersync.sweep().polled == 6
    assert powersync.sweep_chunk(lost.began, lost.bmc_ids).polled == 0  # it turns up after all
    assert powersync.finished_round(lost.began) is None  # nothing left for it to report
    assert reads(simlab, rack_of_lab_servers) == [1] * 6


@pytest.mark.django_db(transaction=True)
def test_two_planners_at_once_never_take_the_same_bmc(admin):
    for _ in range(40):
        make_server(actor=admin)
    for _ in range(3):
        Bmc.objects.update(next_poll_at=None, sweep_round=None, sweep_claimed_until=None)
        rounds = [set(r.bmc_ids) for r in all_at_once([powersync.claim_round] * 2)]
        assert not rounds[0] & rounds[1]
        assert rounds[0] | rounds[1] == set(Bmc.objects.values_list("pk", flat=True))


def test_an_unknown_state_is_never_acted_on(rack_of_lab_servers, simlab):
    server = rack_of_lab_servers[0]
    Bmc.objects.filter(server=server).update(drift_policy="enforce", desired_power_state="on")
    simlab.change(server.lab_port, silent=True)
    for _ in range(3):
        Bmc.objects.update(next_poll_at=None)
        powersync.sweep()
    assert Bmc.objects.get(server=server).power_state == "unknown"
    simlab.change(server.lab_port, silent=False, power="off")
    Bmc.objects.update(next_poll_at=None)
    report = powersync.sweep()
    assert report.drifted == []  # unknown -> off is a first reading, not drift
    assert not Operation.objects.exists()


def test_a_sweep_reads_a_row_of_racks_at_once_without_losing_one(
    db, settings, django_assert_max_num_queries
):
    """600 BMCs over two lab processes, read 64 at a time, twice (first contact, then with
    the suite known): every one answers. Concurrent first contacts used to stall the lab."""
    from provisioning.simlab.enrolment import enrol_lab
    from tests.simlab import Simlab

    settings.PANEL_POWER_SYNC_CONCURRENCY = 64
    lab = Simlab(servers=600)
    try:
        enrol_lab(ports=lab.ports, username="admin", password="password")
        for _ in range(2):
            # The claim, then for each chunk its renewal and one UPDATE per outcome, not one
            # per BMC.
            chunks = -(-600 // settings.PANEL_POWER_SYNC_CHUNK)
            with django_assert_max_num_queries(2 + 7 * chunks):
                report = powersync.sweep()
            assert (report.polled, report.failed) == (600, 0)
            Bmc.objects.update(next_poll_at=None)
        assert set(Bmc.objects.values_list("reachable", "power_state")) == {(True, "off")}
    finally:
        lab.stop()


def test_a_read_of_a_server_deleted_meanwhile_is_dropped_not_a_500(admin, simlab):
    """Found by schemathesis: GET power/?refresh=true waited on a silent BMC while another
    request deleted the server; saving the read was a DatabaseError."""
    port = simlab.take_port()
    server = make_server(
        actor=admin,
        bmc={"address": "127.0.0.1", "port": port, "username": "admin", "password": "password"},
    )
    reachable, silent = server.bmc, make_server(actor=admin).bmc
    Bmc.objects.filter(pk__in=[reachable.pk, silent.pk]).delete()
    powersync.read_now(reachable)
    with pytest.raises(powersync.BmcError):
        powersync.read_now(silent)
    assert not Bmc.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_sweep_never_overwrites_a_state_an_operation_read_while_it_ran(
    rack_of_lab_servers, simlab
):
    """Found in CI: a billing module's power-on completed, then the sweep that had read the
    server off a moment before stored its older reading, and the server showed off."""
    silent, powered = rack_of_lab_servers[:2]
    simlab.change(silent.lab_port, silent=True)  # holds the sweep for one BMC timeout
    simlab.change(powered.lab_port, power="off")
    sweeping = threading.Thread(target=lambda: (powersync.sweep(), connections.close_all()))
    sweeping.start()
    time.sleep(1)  # the sweep has read `powered` off and waits for the silent BMC
    simlab.change(powered.lab_port, power="on")
    powersync.record_power_state(Bmc.objects.get(server=powered), "on")  # as a power-on does
    sweeping.join(timeout=30)
    assert states()[powered.pk] == "on"
    assert Bmc.objects.get(server=rack_of_lab_servers[2]).power_state_read_at is not None
