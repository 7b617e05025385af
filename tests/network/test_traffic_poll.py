"""The traffic poll end to end: simlab's switch agent (pysnmp, on loopback) read by the
panel's poll round, accounted by ingestion and answered by the API. Counters near 2**64
wrap for real; a restarted agent is a gap; a silent switch leaves no reading."""

import time
from datetime import timedelta

import pytest
from django.db.models import F, Sum

from inventory.models import Switch
from network.models import PortCounter, TrafficDay
from network.traffic.poll import poll_round

pytestmark = pytest.mark.e2e
INTERVAL = timedelta(seconds=300)


@pytest.fixture
def wired(simlab, cabled_server):
    """A cabled simlab server, running, its switch agent up for a day."""
    simlab.change(cabled_server.lab_port, power="on", traffic_mbps=200)
    simlab.change_switch(uptime=86400)
    return cabled_server


def an_interval_passes():
    """The last reading was an interval ago (and the agent's clock agrees), so the port is
    due and the time since it counts as one interval."""
    PortCounter.objects.update(
        read_at=F("read_at") - INTERVAL, uptime_ticks=F("uptime_ticks") - 30000
    )


def volume(server) -> tuple[int, int]:
    totals = TrafficDay.objects.filter(server=server).aggregate(Sum("bytes_in"), Sum("bytes_out"))
    return totals["bytes_in__sum"] or 0, totals["bytes_out__sum"] or 0


def test_a_round_reads_the_data_port_and_counts_exactly_across_a_64_bit_wrap(
    simlab, wired, admin_api
):
    simlab.change_switch_port(wired.cable.data_if_index, in_octets=2**64 - 2_000_000)

    first = poll_round()

    assert (first.switches, first.ports, first.failed) == (1, 1, [])  # the BMC port is not read
    baseline = PortCounter.objects.get()
    assert baseline.port.if_index == wired.cable.data_if_index
    assert poll_round().ports == 0  # not due again before an interval
    time.sleep(1)  # 200 Mbit/s (30 % of it in): the in counter passes 2**64
    an_interval_passes()

    poll_round()

    after = PortCounter.objects.get()
    wrapped_in = (after.in_octets - baseline.in_octets) % 2**64
    assert 0 <= after.in_octets < 2_000_000_000  # it wrapped, and this is its low value
    assert 2_000_000 < wrapped_in < 100_000_000  # seconds of traffic, not a 2**64 spike
    counted_in, counted_out = volume(wired)
    assert counted_in == wrapped_in
    assert counted_out == after.out_octets - baseline.out_octets
    answer = admin_api.get(f"/api/v1/servers/{wired.pk}/traffic/").json()
    assert answer["volume"]["in_bytes"] == counted_in


def test_a_restarted_switch_is_a_gap_not_a_spike(simlab, wired):
    poll_round()
    time.sleep(0.5)
    an_interval_passes()
    poll_round()
    before = volume(wired)
    simlab.change_switch(restart=True)  # counters and sysUpTime back to 0
    time.sleep(0.5)
    an_interval_passes()

    poll_round()

    assert volume(wired) == before  # the unknown interval adds nothing
    assert PortCounter.objects.get().uptime_ticks < 1000  # the new baseline


def test_a_silent_switch_leaves_no_reading_and_is_recorded(simlab, wired, settings):
    settings.PANEL_SNMP_TIMEOUT, settings.PANEL_SNMP_RETRIES = 0.5, 0
    simlab.change_switch(silent=True)

    report = poll_round()

    assert report.failed == ["simlab-switch-0"] and report.ports == 0
    assert not PortCounter.objects.exists()
    switch = Switch.objects.get()
    assert switch.consecutive_failures == 1 and "No answer" in switch.last_error
