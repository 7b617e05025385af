"""Rates, volume and the billing 95th percentile, against numbers worked out by hand."""

from datetime import UTC, date, datetime, timedelta

import numpy as np

from network.models import TrafficMonth
from network.traffic import selectors
from network.traffic.selectors import percentile95, server_traffic
from tests.factories import make_server
from tests.network.traffic import at, feed, make_port

# Octets per 5-minute slot, twenty slots from 12:00 to 13:40 UTC.
IN = [1500, 3000, 750, 6000, 4500, 30000, 2250, 3750, 1500, 5250,
      600, 900, 7500, 3000, 1200, 4500, 2400, 3600, 4800, 6000]  # fmt: skip
OUT = [12000, 9000] + [300] * 18
# By hand. In, sorted: 600 750 900 1200 1500 1500 2250 2400 3000 3000 3600 3750 4500 4500
# 4800 5250 6000 6000 7500 30000. 5 % of 20 samples is 1: drop 30000, the highest left is
# 7500 octets = 7500 * 8 / 300 = 200 bit/s. Out: drop 12000, keep 9000 = 240 bit/s.
# Billed: max(200, 240) = 240 bit/s (the 95th of max(in, out) per slot would be 320).
P95_IN, P95_OUT = 200, 240


def whole_day(server, now=datetime(2026, 11, 4, tzinfo=UTC)):
    start = datetime(2026, 11, 3, tzinfo=UTC)
    return server_traffic(server, start=start, end=start + timedelta(days=1), now=now)


def test_the_95th_percentile_drops_the_top_5_percent_and_bills_the_larger_direction(
    data_port, owned_server
):
    feed(data_port, IN, OUT)
    usage = whole_day(owned_server).usage
    assert (usage.p95_in_bps, usage.p95_out_bps, usage.p95_max_bps) == (P95_IN, P95_OUT, 240)
    assert (usage.samples_present, usage.samples_expected) == (20, 288)


def test_gaps_are_left_out_of_the_percentile_not_counted_as_zero():
    rates = np.array([np.nan] * 88 + [100.0] * 10 + [900.0] * 2)
    # 12 samples present: 5 % of 12 rounds down to 0 dropped, so 900. Had the 88 gaps been
    # zeros, 100 samples would drop their top 5 (900, 900, 100, 100, 100) and give 100.
    assert percentile95(rates) == 900
    assert percentile95(np.array([np.nan, np.nan])) is None


def test_volume_of_whole_days_is_the_exact_counter_total(data_port, owned_server):
    feed(data_port, IN, OUT)
    usage = whole_day(owned_server).usage
    assert (usage.bytes_in, usage.bytes_out) == (sum(IN), sum(OUT))
    assert usage.bytes_total == sum(IN) + sum(OUT)
    assert usage.exact


def test_volume_of_part_of_a_day_is_summed_from_its_slots(data_port, owned_server):
    feed(data_port, IN, OUT)
    traffic = server_traffic(
        owned_server, start=at(10), end=at(20), now=datetime(2026, 11, 4, tzinfo=UTC)
    )
    assert traffic.usage.bytes_in == 750 + 6000
    assert not traffic.usage.exact
    assert [(point[0], point[1]) for point in traffic.rates] == [(at(10), 20.0), (at(15), 160.0)]


def test_rates_are_bits_per_second_per_slot_with_nulls_for_gaps(data_port, owned_server):
    feed(data_port, IN, OUT)
    rates = whole_day(owned_server).rates
    assert len(rates) == 288
    assert rates[144] == (at(0), 1500 * 8 / 300, 12000 * 8 / 300)
    assert rates[143] == (at(-5), None, None)


def test_long_ranges_are_averaged_into_at_most_2016_points(data_port, owned_server):
    feed(data_port, [3000, 6000, 9000, 12000, 15000], [0] * 5)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    traffic = server_traffic(
        owned_server, start=start, end=start + timedelta(days=30), now=start + timedelta(days=30)
    )
    assert traffic.step_seconds == 1500  # 8640 slots in buckets of 5
    assert len(traffic.rates) == 1728
    bucket = next(point for point in traffic.rates if point[0] == at(0))
    assert bucket[1] == (3000 + 6000 + 9000 + 12000 + 15000) * 8 / 300 / 5
    assert traffic.rates[0][1] is None


def test_a_servers_traffic_is_the_sum_of_its_data_ports(owned_server):
    first, second = make_port(owned_server), make_port(owned_server)
    make_port(owned_server, is_ipmi_connection=True)
    feed(first, [3000] * 4, [0] * 4)
    feed(second, [1500, 1500, 1500], [0] * 3)
    traffic = whole_day(owned_server)
    assert [point[1] for point in traffic.rates[144:148]] == [120.0, 120.0, 120.0, None]
    # The fourth slot: one port has no data, so the server's sum is unknown (a gap).
    assert traffic.usage.samples_present == 3
    assert traffic.usage.bytes_in == 4 * 3000 + 3 * 1500
    assert sorted(port.pk for port in traffic.ports) == sorted([first.pk, second.pk])


def test_the_month_of_every_server_at_once(admin, customer, data_port, owned_server):
    feed(data_port, IN, OUT)
    other = make_server(actor=admin, owner=customer)
    feed(make_port(other), [300] * 3, [600] * 3)
    usage = selectors.month_usage(date(2026, 11, 1), now=datetime(2026, 12, 1, tzinfo=UTC))
    assert usage[owned_server.pk].p95_in_bps == P95_IN
    assert usage[owned_server.pk].samples_expected == 30 * 288
    assert (usage[other.pk].bytes_in, usage[other.pk].p95_out_bps) == (900, 16)
    assert selectors.month_usage(date(2026, 10, 1), now=datetime(2026, 12, 1, tzinfo=UTC)) == {}


def test_the_current_month_expects_only_the_slots_that_have_ended(data_port, owned_server):
    feed(data_port, IN, OUT)
    usage = selectors.month_usage(date(2026, 11, 1), now=at(100))
    assert usage[owned_server.pk].samples_expected == 2 * 288 + 144 + 20
    assert usage[owned_server.pk].samples_present == 20
    assert not TrafficMonth.objects.exists()
