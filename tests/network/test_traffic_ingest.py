"""From counter readings to stored slots: wrap, restarts, gaps, missed polls, day rows."""

from datetime import date, timedelta

import numpy as np
import pytest

from network.models import PortCounter, TrafficDay
from network.traffic import storage
from network.traffic.ingest import PortReading, record_readings
from tests.network.traffic import Counters, at, make_port


def slots_of(server, day=date(2026, 11, 3)):
    """The server's stored octets per slot of `day`, in and out, None for a gap."""
    row = TrafficDay.objects.get(server=server, day=day)
    octets = storage.decode_codes(storage.unpack(bytes(row.slots)))
    return [[None if np.isnan(v) else int(v) for v in direction] for direction in octets]


def slot(minutes_after_noon: int) -> int:
    return (12 * 60 + minutes_after_noon) // 5


def test_small_counts_are_stored_exactly_and_large_ones_within_a_twentieth_of_a_percent():
    for octets in [0, 1, 1023, 2047, 2048, 2049, 3_750_000_000_000, 2**64 - 1]:
        decoded = storage.decode_codes(np.array([storage.encode_octets(octets)]))[0]
        assert abs(decoded - octets) <= octets / 2048
        if octets < 2048:
            assert decoded == octets
    codes = [storage.encode_octets(n) for n in range(0, 10**6, 997)]
    assert codes == sorted(codes)
    assert np.isnan(storage.decode_codes(np.array([storage.GAP]))[0])


def test_the_first_reading_only_sets_the_baseline(data_port, owned_server):
    report = Counters(data_port).read(at(0))
    assert report.first == [data_port.pk]
    assert not TrafficDay.objects.exists()
    assert PortCounter.objects.get(port=data_port).pending_in == 0


def test_polls_on_slot_boundaries_fill_one_slot_each(data_port, owned_server):
    counters = Counters(data_port)
    counters.read(at(0))
    counters.read(at(5), add_in=3_000, add_out=1_500)
    counters.read(at(10), add_in=1_200, add_out=600)
    stored_in, stored_out = slots_of(owned_server)
    assert stored_in[slot(0)] == 3_000 and stored_out[slot(0)] == 1_500
    assert stored_in[slot(5)] == 1_200 and stored_out[slot(5)] == 600
    assert stored_in[slot(10)] is None  # under way, not a zero
    row = TrafficDay.objects.get(server=owned_server)
    assert (row.bytes_in, row.bytes_out) == (4_200, 2_100)


def test_late_polls_share_octets_by_time_and_write_a_slot_once_covered(data_port, owned_server):
    counters = Counters(data_port)
    counters.read(at(1))  # mid-slot: the 12:00 slot's start is not covered
    counters.read(at(6), add_in=1_000)  # 12:01-12:06: 800 to 12:00, 200 pending in 12:05
    stored_in, _ = slots_of(owned_server)
    assert stored_in[slot(0)] is None
    assert stored_in[slot(5)] is None
    counters.read(at(11), add_in=1_000)  # 12:06-12:11: 800 more to 12:05
    stored_in, _ = slots_of(owned_server)
    assert stored_in[slot(0)] is None
    assert stored_in[slot(5)] == 1_000
    assert TrafficDay.objects.get(server=owned_server).bytes_in == 2_000


def test_a_64_bit_counter_wrap_counts_what_passed(data_port, owned_server):
    counters = Counters(data_port, start=2**64 - 1_000)
    counters.read(at(0))
    report = counters.read(at(5), add_in=5_000, add_out=5_000)
    assert report.counted == [data_port.pk]
    stored_in, stored_out = slots_of(owned_server)
    assert stored_in[slot(0)] == stored_out[slot(0)] == 5_000


def test_a_counter_reset_without_restart_is_a_gap_not_a_spike(data_port, owned_server):
    counters = Counters(data_port, start=10**12)
    counters.read(at(0))
    counters.read(at(5), add_in=1_000, add_out=1_000)
    counters.in_octets = counters.out_octets = 0  # a line card was reseated
    report = counters.read(at(10), add_in=4_000, add_out=4_000)
    assert report.restarted == [data_port.pk]
    counters.read(at(15), add_in=2_000, add_out=2_000)
    stored_in, _ = slots_of(owned_server)
    assert stored_in[slot(0)] == 1_000
    assert stored_in[slot(5)] is None
    assert stored_in[slot(10)] == 2_000
    assert TrafficDay.objects.get(server=owned_server).bytes_in == 3_000


def test_an_agent_restart_is_a_gap_and_adds_no_volume(data_port, owned_server):
    counters = Counters(data_port, start=50_000_000)
    counters.read(at(0))
    counters.read(at(5), add_in=1_000)
    counters.in_octets = counters.out_octets = 0
    counters.uptime_ticks = 0  # rebooted, came back 120 s ago
    report = counters.read(at(10), add_in=7_000, after=120)
    assert report.restarted == [data_port.pk]
    counters.read(at(15), add_in=3_000)
    stored_in, _ = slots_of(owned_server)
    assert stored_in[slot(0)] == 1_000
    assert stored_in[slot(5)] is None
    assert stored_in[slot(10)] == 3_000
    assert TrafficDay.objects.get(server=owned_server).bytes_in == 4_000


def test_sysuptime_wrapping_after_497_days_is_not_a_restart(data_port, owned_server):
    counters = Counters(data_port)
    counters.uptime_ticks = 2**32 - 10_000  # 100 s before TimeTicks wrap
    counters.read(at(0))
    report = counters.read(at(5), add_in=1_000)
    assert report.counted == [data_port.pk]
    assert slots_of(owned_server)[0][slot(0)] == 1_000


def test_missed_polls_leave_gaps_but_keep_the_volume(data_port, owned_server):
    counters = Counters(data_port)
    counters.read(at(0))
    counters.read(at(5), add_in=1_000)
    report = counters.read(at(25), add_in=80_000, after=1200)  # three polls missed
    assert report.missed_polls == [data_port.pk]
    counters.read(at(30), add_in=2_000)
    stored_in, _ = slots_of(owned_server)
    assert stored_in[slot(0)] == 1_000
    assert stored_in[slot(5) : slot(25)] == [None] * 4
    assert stored_in[slot(25)] == 2_000
    assert TrafficDay.objects.get(server=owned_server).bytes_in == 83_000


def test_a_port_that_is_down_still_counts_what_its_counters_say(owned_server):
    port = make_port(owned_server, admin_status="down", oper_status="down")
    counters = Counters(port)
    counters.read(at(0))
    counters.read(at(5), add_in=42)
    assert slots_of(owned_server)[0][slot(0)] == 42


def test_bmc_ports_and_unconnected_ports_store_nothing(owned_server):
    bmc_port = make_port(owned_server, is_ipmi_connection=True)
    spare = make_port(None)
    for port in (bmc_port, spare):
        counters = Counters(port)
        counters.read(at(0))
        report = counters.read(at(5), add_in=1_000)
        assert report.counted == [port.pk]
    assert not TrafficDay.objects.exists()
    assert PortCounter.objects.count() == 2


def test_an_interval_across_utc_midnight_lands_in_both_days_rows(data_port, owned_server):
    counters = Counters(data_port)
    midnight = at(12 * 60)  # 2026-11-04 00:00 UTC
    counters.read(midnight - timedelta(minutes=5))
    counters.read(midnight - timedelta(minutes=2), add_in=600, after=180)
    counters.read(midnight + timedelta(minutes=3), add_in=1_000)  # 400 before, 600 after
    counters.read(midnight + timedelta(minutes=8), add_in=1_000)
    before = TrafficDay.objects.get(server=owned_server, day=date(2026, 11, 3))
    after = TrafficDay.objects.get(server=owned_server, day=date(2026, 11, 4))
    assert (before.bytes_in, after.bytes_in) == (1_000, 1_600)
    assert slots_of(owned_server, date(2026, 11, 3))[0][-1] == 1_000
    assert slots_of(owned_server, date(2026, 11, 4))[0][0] == 1_000


def test_a_reading_not_newer_than_the_baseline_is_ignored(data_port, owned_server):
    counters = Counters(data_port)
    counters.read(at(5))
    report = counters.read(at(5), add_in=1_000)
    assert report.stale == [data_port.pk]
    assert PortCounter.objects.get(port=data_port).in_octets == 0


def test_readings_of_unknown_ports_are_reported(db):
    report = record_readings([PortReading(987654, 1, 1, 1)], read_at=at(0))
    assert report.unknown_ports == [987654]


def test_a_reading_time_without_a_timezone_is_refused(data_port):
    with pytest.raises(ValueError, match="aware"):
        record_readings([PortReading(data_port.pk, 1, 1, 1)], read_at=at(0).replace(tzinfo=None))
