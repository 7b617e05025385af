"""The power sweep split across a real `qcluster`'s workers, against a simlab fleet."""

import time

import pytest
from django_q.brokers import get_broker
from django_q.models import Schedule

from inventory.models import Bmc
from provisioning import services
from provisioning.models import SweepRecord
from provisioning.simlab.enrolment import enrol_lab
from tests.concurrency import all_at_once
from tests.e2e.workers import Qcluster, wait_until
from tests.simlab import Simlab

FLEET = 300


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_planners_and_two_workers_read_every_bmc_exactly_once(settings):
    settings.PANEL_POWER_SYNC_CHUNK = 20
    lab = Simlab(servers=FLEET, address="127.0.0.2")  # a fleet beyond 127.0.0.1's ports
    try:
        enrol_lab(ports=lab.ports, username="admin", password="password", address=lab.address)
        Schedule.objects.all().delete()  # the cluster's own schedule would plan a third round
        get_broker().purge_queue()
        cluster = Qcluster(PANEL_WORKERS=2)
        try:
            # Two schedulers (on two hosts) tick at the same moment.
            rounds = all_at_once([services.sync_power_states] * 2)
            record = SweepRecord.objects.filter(kind="power", polled=FLEET)
            wait_until(record.exists, timeout=120)
        finally:
            cluster.kill()  # done with it; a graceful stop takes django-q2 up to 20 s
        assert sorted(len(round_.bmc_ids) for round_ in rounds) == [0, FLEET]
        assert sorted(len(chunk) for round_ in rounds for chunk in round_.chunks()) == [20] * 15
        assert lab.power_reads() == dict.fromkeys(lab.ports, 1)
        assert record.get().failed == 0
        assert set(Bmc.objects.values_list("reachable", "sweep_claimed_until")) == {(True, None)}
    finally:
        lab.stop()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_round_whose_worker_was_killed_mid_chunk_is_read_by_a_later_round(settings):
    # The workers' claim too (a chunk renews it): just over what a chunk of dead BMCs takes.
    quick = {"PANEL_BMC_TIMEOUT": 3, "PANEL_POWER_SYNC_CHUNK": 40}
    quick["PANEL_POWER_SYNC_CLAIM_SECONDS"] = 4
    settings.PANEL_POWER_SYNC_CLAIM_SECONDS = 4
    lab = Simlab(servers=40, address="127.0.0.2")
    try:
        enrol_lab(ports=lab.ports, username="admin", password="password", address=lab.address)
        Schedule.objects.all().delete()
        get_broker().purge_queue()
        silent = lab.ports[0]
        lab.change(silent, silent=True)  # holds the chunk for its BMC timeout
        first = Qcluster(**quick)
        try:
            services.sync_power_states()
            wait_until(lambda: sum(lab.power_reads().values()) == 39)  # waiting for `silent`
            first.kill()
        finally:
            first.stop()
        assert not Bmc.objects.filter(sweep_claimed_until=None).exists()  # nothing stored
        assert services.sync_power_states().bmc_ids == []  # still held by the lost round
        lab.change(silent, silent=False)
        time.sleep(4)  # the lost round's claim expires
        second = Qcluster(**quick)
        try:
            assert len(services.sync_power_states().bmc_ids) == 40
            record = SweepRecord.objects.filter(kind="power", polled=40, failed=0)
            wait_until(record.exists)
        finally:
            second.kill()
        assert lab.power_reads() == {silent: 1} | dict.fromkeys(lab.ports[1:], 2)
        assert set(Bmc.objects.values_list("reachable", "sweep_claimed_until")) == {(True, None)}
    finally:
        lab.stop()
