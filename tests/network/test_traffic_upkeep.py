"""Monthly rollups and the retention of the 5-minute detail."""

from datetime import UTC, date, datetime

from django_q.models import Schedule

from network import tasks
from network.models import TrafficDay, TrafficMonth
from network.traffic.upkeep import maintain_traffic
from tests.network.traffic import feed

OCTOBER_LAST_DAY = datetime(2026, 10, 31, 12, tzinfo=UTC)


def test_an_ended_month_is_rolled_up_once_its_last_readings_are_in(data_port, owned_server):
    feed(data_port, [3000] * 19 + [30000], [600] * 20, start=OCTOBER_LAST_DAY)
    assert maintain_traffic(now=datetime(2026, 11, 1, 0, 30, tzinfo=UTC)).rolled_up == 0
    report = maintain_traffic(now=datetime(2026, 11, 1, 1, 30, tzinfo=UTC))
    assert report.rolled_up == 1
    rollup = TrafficMonth.objects.get(server=owned_server, month=date(2026, 10, 1))
    assert (rollup.bytes_in, rollup.bytes_out) == (19 * 3000 + 30000, 20 * 600)
    assert (rollup.p95_in_bps, rollup.p95_out_bps) == (80, 16)  # 3000 * 8 / 300, 600 * 8 / 300
    assert (rollup.samples_present, rollup.samples_expected) == (20, 31 * 288)
    assert maintain_traffic(now=datetime(2026, 11, 1, 2, 30, tzinfo=UTC)).rolled_up == 0


def test_detail_past_retention_is_pruned_and_the_rollup_stays(data_port, owned_server, settings):
    settings.PANEL_TRAFFIC_RETENTION_DAYS = 30
    feed(data_port, [3000] * 4, [0] * 4, start=OCTOBER_LAST_DAY)
    assert maintain_traffic(now=datetime(2026, 11, 20, tzinfo=UTC)).pruned == 0
    report = maintain_traffic(now=datetime(2026, 12, 5, tzinfo=UTC))
    assert report.pruned == 1
    assert not TrafficDay.objects.exists()
    assert TrafficMonth.objects.get(server=owned_server).bytes_in == 12000


def test_a_month_not_yet_rolled_up_is_never_pruned(data_port, owned_server, settings):
    settings.PANEL_TRAFFIC_RETENTION_DAYS = 0
    feed(data_port, [3000] * 4, [0] * 4, start=OCTOBER_LAST_DAY)
    assert maintain_traffic(now=datetime(2026, 11, 1, 0, 10, tzinfo=UTC)).pruned == 0
    assert TrafficDay.objects.count() == 1


def test_the_upkeep_runs_every_hour_as_a_django_q2_schedule(db):
    schedule = Schedule.objects.get(func="network.tasks.maintain_traffic_tables")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 60, -1)
    assert tasks.maintain_traffic_tables().startswith("rolled up 0 server-months")
