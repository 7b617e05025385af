"""Rollups and retention: the hourly upkeep of the traffic tables.

Once a month has ended (plus an hour for the last slot's reading), each server's month is
rolled up into a TrafficMonth row (volume, 95th in/out, samples) that is kept for good.
Detail older than PANEL_TRAFFIC_RETENTION_DAYS is then deleted, never a month not yet
rolled up.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from network.models import TrafficDay, TrafficMonth
from network.traffic.selectors import month_usage

LATE_READINGS = timedelta(hours=1)


@dataclass(frozen=True)
class UpkeepReport:
    rolled_up: int
    pruned: int


def maintain_traffic(*, now: datetime | None = None) -> UpkeepReport:
    now = now or timezone.now()
    this_month = datetime.combine(now.date().replace(day=1), time(), tzinfo=UTC)
    last_month = (this_month - timedelta(days=1)).date().replace(day=1)
    rolled_up = 0
    settled = now >= this_month + LATE_READINGS
    if settled and not TrafficMonth.objects.filter(month=last_month).exists():
        usage = month_usage(last_month, now=now)
        TrafficMonth.objects.bulk_create(
            [used.rollup(server_id=pk, month=last_month) for pk, used in usage.items()],
            batch_size=500,
            ignore_conflicts=True,
        )
        rolled_up = len(usage)
    retained_from = now.date() - timedelta(days=settings.PANEL_TRAFFIC_RETENTION_DAYS)
    cutoff = min(retained_from, this_month.date() if settled else last_month)
    with transaction.atomic():
        pruned, _ = TrafficDay.objects.filter(day__lt=cutoff).delete()
    return UpkeepReport(rolled_up=rolled_up, pruned=pruned)
