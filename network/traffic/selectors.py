"""Reading traffic: rates, volume and the 95th percentile of a server or of every server.

A server's traffic is the sum over the ports recorded for it (its data ports, see ingest).
A slot where one of those ports has no data is a gap for the server: a sum of the ports that
answered would understate it.

95th percentile, as hosting billing does it: the present 5-minute rates of the period,
sorted, the top 5 % (rounded down) dropped, the highest remaining taken; in and out
separately. Gaps are left out, not counted as zero. The billed figure, `p95_max_bps`, is the
larger of the two (max(in95, out95), as DCImanager, Tenantos and most providers bill), not
the 95th of max(in, out) per slot.
"""

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.utils import timezone

from inventory.models import Server, SwitchPort
from network.models import TrafficDay, TrafficMonth
from network.traffic import storage

# Longer series are averaged over buckets of whole slots so at most this many points return
# (a week of 5-minute slots fits unaveraged).
MAX_POINTS = 2016
# What a month's rollup (TrafficMonth) stores of a Usage.
ROLLUP_FIELDS = (
    "bytes_in",
    "bytes_out",
    "p95_in_bps",
    "p95_out_bps",
    "samples_present",
    "samples_expected",
)


@dataclass(frozen=True)
class Usage:
    """A server's traffic over a period."""

    bytes_in: int
    bytes_out: int
    p95_in_bps: int | None
    p95_out_bps: int | None
    samples_present: int
    samples_expected: int
    # Volume from whole days' exact totals; False when part of a day was summed from slots.
    exact: bool = True

    @classmethod
    def of_rollup(cls, rollup: TrafficMonth) -> "Usage":
        return cls(**{name: getattr(rollup, name) for name in ROLLUP_FIELDS})

    def rollup(self, *, server_id: int, month: date) -> TrafficMonth:
        fields = {name: getattr(self, name) for name in ROLLUP_FIELDS}
        return TrafficMonth(server_id=server_id, month=month, **fields)

    @property
    def bytes_total(self) -> int:
        return self.bytes_in + self.bytes_out

    @property
    def p95_max_bps(self) -> int | None:
        known = [value for value in (self.p95_in_bps, self.p95_out_bps) if value is not None]
        return max(known) if known else None


class RatePoint(NamedTuple):
    time: datetime  # the slot's (or bucket's) start
    in_bps: float | None  # None: a gap
    out_bps: float | None


@dataclass(frozen=True)
class ServerTraffic:
    start: datetime
    end: datetime
    step_seconds: int
    rates: list[RatePoint]
    usage: Usage
    ports: list[SwitchPort]


def percentile95(rates: np.ndarray) -> int | None:
    """The billing 95th of one direction's rates (NaN = gap), None with no sample."""
    present = rates[~np.isnan(rates)]
    if not present.size:
        return None
    k = present.size - 1 - present.size * 5 // 100
    return round(float(np.partition(present, k)[k]))


def visible_start(server: Server, user, start: datetime) -> datetime:
    """Where a user's view of a server's traffic may begin: a customer sees it from when the
    server became theirs, never its last tenant's; staff see it all."""
    if user.is_admin or server.owner_since is None:
        return start
    return max(start, server.owner_since)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime.combine(month.replace(day=1), time(), tzinfo=UTC)
    return start, _next_month(start)


def server_traffic(
    server: Server, *, start: datetime, end: datetime, now: datetime | None = None
) -> ServerTraffic:
    """Rates, volume and 95th of one server over [start, end), up to now."""
    now = now or timezone.now()
    slot_seconds = settings.PANEL_TRAFFIC_POLL_SECONDS
    first_day, last_day = start.date(), (min(end, now) - timedelta(microseconds=1)).date()
    n_days = max((last_day - first_day).days + 1, 0)
    rows = list(
        TrafficDay.objects.filter(server=server, day__gte=first_day, day__lte=last_day)
        .order_by("day")
        .values_list("day", "port_id", "bytes_in", "bytes_out", "slots")
    )
    octets = _server_octets([(day, blob) for day, _, _, _, blob in rows], first_day, n_days)
    day_start = datetime.combine(first_day, time(), tzinfo=UTC)
    offsets = np.arange(octets.shape[1]) * slot_seconds

    def seconds(moment: datetime) -> float:
        return (moment - day_start).total_seconds()

    in_range = (offsets >= seconds(start)) & (offsets < seconds(min(end, now)))
    ended = in_range & (offsets + slot_seconds <= seconds(now))

    bytes_in = bytes_out = 0
    exact = True
    for day, day_rows in itertools.groupby(rows, key=lambda row: row[0]):
        day_rows = list(day_rows)
        begins = datetime.combine(day, time(), tzinfo=UTC)
        if start <= begins and begins + timedelta(days=1) <= end:
            bytes_in += sum(row[2] for row in day_rows)
            bytes_out += sum(row[3] for row in day_rows)
            continue
        exact = False
        part = in_range & (offsets // 86400 == (day - first_day).days)
        bytes_in += round(float(np.nansum(octets[0][part])))
        bytes_out += round(float(np.nansum(octets[1][part])))

    rates = octets[:, in_range] * 8 / slot_seconds
    usage = Usage(
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        p95_in_bps=percentile95(rates[0]),
        p95_out_bps=percentile95(rates[1]),
        samples_present=int(np.count_nonzero(~np.isnan(octets[0][ended]))),
        samples_expected=int(np.count_nonzero(ended)),
        exact=exact,
    )
    factor = max(1, math.ceil(rates.shape[1] / MAX_POINTS))
    port_ids = sorted({row[1] for row in rows})
    return ServerTraffic(
        start=start,
        end=end,
        step_seconds=slot_seconds * factor,
        rates=_points(day_start, offsets[in_range][::factor], _bucket_means(rates, factor)),
        usage=usage,
        ports=list(SwitchPort.objects.filter(pk__in=port_ids).select_related("switch")),
    )


def month_usage(
    month: date, *, server_ids: list[int] | None = None, now: datetime | None = None
) -> dict[int, Usage]:
    """Every server's usage in a month (or only `server_ids`'), from the detail rows: one
    query, read in chunks. Volume is the days' exact totals."""
    now = now or timezone.now()
    start, end = month_bounds(month)
    slot_seconds = settings.PANEL_TRAFFIC_POLL_SECONDS
    n_days = (end - start).days
    slots = n_days * storage.slots_per_day(slot_seconds)
    # The month's slots that have ended by now: the current month's later ones are not gaps.
    ended = max(0, min(slots, int((now - start).total_seconds()) // slot_seconds))
    rows = TrafficDay.objects.filter(day__gte=start.date(), day__lt=end.date())
    if server_ids is not None:
        rows = rows.filter(server_id__in=server_ids)
    rows = rows.order_by("server_id", "day").values_list(
        "server_id", "day", "bytes_in", "bytes_out", "slots"
    )
    usage = {}
    for server_id, server_rows in itertools.groupby(
        rows.iterator(chunk_size=2000), key=lambda row: row[0]
    ):
        server_rows = list(server_rows)
        octets = _server_octets(
            [(day, blob) for _, day, _, _, blob in server_rows], start.date(), n_days
        )[:, :ended]
        rates = octets * 8 / slot_seconds
        usage[server_id] = Usage(
            bytes_in=sum(row[2] for row in server_rows),
            bytes_out=sum(row[3] for row in server_rows),
            p95_in_bps=percentile95(rates[0]),
            p95_out_bps=percentile95(rates[1]),
            samples_present=int(np.count_nonzero(~np.isnan(octets[0]))),
            samples_expected=ended,
        )
    return usage


def rolled_up_usage(month: date, server_ids: list[int]) -> dict[int, Usage]:
    """The stored rollups of an ended month."""
    return {
        rollup.server_id: Usage.of_rollup(rollup)
        for rollup in TrafficMonth.objects.filter(month=month, server_id__in=server_ids)
    }


def servers_with_traffic(month: date):
    """Servers that have traffic in the month (rolled up or in detail), by name."""
    start, end = month_bounds(month)
    rolled = TrafficMonth.objects.filter(month=start.date())
    if rolled.exists():
        ids = rolled.values("server_id")
    else:
        ids = TrafficDay.objects.filter(day__gte=start.date(), day__lt=end.date()).values(
            "server_id"
        )
    return Server.objects.filter(pk__in=ids).select_related("owner").order_by("name")


def usage_for(month: date, servers: list[Server]) -> dict[int, Usage]:
    """The usage of these servers in the month: the rollups once it is rolled up."""
    ids = [server.pk for server in servers]
    first = month.replace(day=1)
    rolled = rolled_up_usage(first, ids)
    return rolled if rolled else month_usage(first, server_ids=ids)


def _server_octets(rows: list[tuple[date, bytes]], first_day: date, n_days: int) -> np.ndarray:
    """A server's octets per slot, shape (2, days * slots), NaN for gaps. `rows` are its port
    days sorted by day; a day recorded under another poll interval counts as gaps."""
    slots = storage.slots_per_day(settings.PANEL_TRAFFIC_POLL_SECONDS)
    octets = np.full((n_days, 2, slots), np.nan)
    fitting = [
        (day, planes)
        for day, blob in rows
        if len(planes := storage.planes_of(bytes(blob))) == 4 * slots
        and 0 <= (day - first_day).days < n_days
    ]
    if fitting:
        planes = np.frombuffer(b"".join(p for _, p in fitting), dtype=np.uint8)
        decoded = storage.decode_codes(storage.codes_of_planes(planes.reshape(-1, 4 * slots)))
        days = np.array([(day - first_day).days for day, _ in fitting])
        firsts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
        if firsts.size == days.size:  # one port: nothing to add up
            octets[days] = decoded
        else:
            octets[days[firsts]] = np.add.reduceat(decoded, firsts, axis=0)
    return octets.transpose(1, 0, 2).reshape(2, -1)


def _bucket_means(rates: np.ndarray, factor: int) -> np.ndarray:
    """Means of `factor` consecutive slots, gaps left out (all gaps: NaN)."""
    if factor == 1:
        return rates
    pad = (-rates.shape[1]) % factor
    padded = np.pad(rates, ((0, 0), (0, pad)), constant_values=np.nan).reshape(2, -1, factor)
    present = (~np.isnan(padded)).sum(axis=2)
    sums = np.nansum(padded, axis=2)
    return np.divide(sums, present, out=np.full(sums.shape, np.nan), where=present > 0)


def _points(day_start: datetime, offsets: np.ndarray, rates: np.ndarray):
    def value(rate):
        return None if math.isnan(rate) else round(float(rate), 1)

    return [
        RatePoint(day_start + timedelta(seconds=int(offset)), value(rate_in), value(rate_out))
        for offset, rate_in, rate_out in zip(offsets, rates[0], rates[1], strict=True)
    ]


def _next_month(moment: datetime) -> datetime:
    return (moment.replace(day=1) + timedelta(days=32)).replace(day=1)
