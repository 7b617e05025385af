"""From raw counter readings to stored slots: what the SNMP poller calls after each read.

Two consecutive readings of a port give the octets of the interval between them. Those
octets are split over the slots the interval covers in proportion to time (as RRDtool does),
so a poll a few seconds early or late shifts nothing into a neighbour: a slot is written once
the readings cover it from its start to its end, and a slot only partly covered stays a gap.

- 64-bit wrap: a counter lower than before with no restart went past 2**64; the delta is
  taken modulo 2**64, unless that would mean more than `CEILING_BPS` (then it was a reset:
  the interval is unknown).
- Agent restart: sysUpTime went backwards (other than its own 32-bit wrap after 497 days)
  or is shorter than the time since the last reading. The counters may have restarted from
  anything: the interval is unknown, its slots are gaps and it adds no volume.
- Missed polls: more than 1.5 intervals since the last reading. The counters still say
  exactly how many octets passed, so they count in the days' volume (split over the days by
  time), but not when: the slots stay gaps and are left out of the 95th percentile. Spreading
  them evenly would invent a flat shape and lower the percentile.
- A port whose admin or oper status is down counts what its counters say.

Traffic is attributed to the server the port is connected to when it is read; a BMC port
(`is_ipmi_connection`) or a port connected to nothing keeps its baseline and stores nothing.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.models import SwitchPort
from network.models import PortCounter, TrafficDay
from network.traffic import storage

COUNTER_MODULUS = 2**64
TIMETICKS_MODULUS = 2**32
# A wrapped delta faster than this is a counter reset, not traffic (10 Tbit/s).
CEILING_BPS = 10**13
MISSED_POLL_FACTOR = 1.5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class PortReading:
    """One port's counters as read from its switch: ifHCInOctets, ifHCOutOctets (Counter64)
    and the agent's sysUpTime (TimeTicks, hundredths of a second) from the same read."""

    port_id: int
    in_octets: int
    out_octets: int
    uptime_ticks: int


@dataclass
class IngestReport:
    """What one call did with its readings, per port id."""

    first: list[int] = field(default_factory=list)  # no baseline yet: nothing counted
    counted: list[int] = field(default_factory=list)
    missed_polls: list[int] = field(default_factory=list)  # volume counted, slots left gaps
    restarted: list[int] = field(default_factory=list)  # agent restart or counter reset: gap
    stale: list[int] = field(default_factory=list)  # not newer than the baseline: ignored
    unknown_ports: list[int] = field(default_factory=list)


def record_readings(readings: Iterable[PortReading], *, read_at: datetime) -> IngestReport:
    """Account the counters of many ports read at `read_at` (an aware datetime).

    One transaction; the ports' baselines are locked, so concurrent calls for the same ports
    take turns. Unknown port ids are reported, not raised.
    """
    if timezone.is_naive(read_at):
        raise ValueError("read_at must be an aware datetime")
    readings = {reading.port_id: reading for reading in readings}
    report = IngestReport()
    slot_seconds = settings.PANEL_TRAFFIC_POLL_SECONDS
    with transaction.atomic():
        ports = {
            port.pk: port
            for port in SwitchPort.objects.filter(pk__in=readings).only(
                "pk", "server_id", "is_ipmi_connection"
            )
        }
        report.unknown_ports = sorted(set(readings) - set(ports))
        baselines = {
            counter.port_id: counter
            for counter in PortCounter.objects.select_for_update()
            .filter(port_id__in=ports)
            .order_by("port_id")
        }
        days = _DayRows(slot_seconds)
        new_baselines = []
        for port_id in sorted(ports):
            port, reading = ports[port_id], readings[port_id]
            baseline = baselines.get(port_id)
            if baseline is not None and baseline.read_at >= read_at:
                report.stale.append(port_id)
                continue
            counter = PortCounter(
                port_id=port_id,
                read_at=read_at,
                uptime_ticks=reading.uptime_ticks,
                in_octets=_signed(reading.in_octets),
                out_octets=_signed(reading.out_octets),
            )
            new_baselines.append(counter)
            outcome = _account(baseline, counter, slot_seconds)
            getattr(report, outcome.kind).append(port_id)
            if port.server_id is not None and not port.is_ipmi_connection:
                days.add(port.server_id, port_id, outcome)
        days.save()
        PortCounter.objects.bulk_create(
            new_baselines,
            update_conflicts=True,
            unique_fields=["port"],
            update_fields=[
                "read_at",
                "uptime_ticks",
                "in_octets",
                "out_octets",
                "pending_in",
                "pending_out",
            ],
        )
    return report


@dataclass
class _Outcome:
    kind: str
    # (slot start, octets in, octets out) of slots now complete
    slots: list[tuple[datetime, int, int]] = field(default_factory=list)
    # (day, octets in, octets out) added to the days' volume
    volume: list[tuple[date, int, int]] = field(default_factory=list)


def _account(baseline: PortCounter | None, counter: PortCounter, slot_seconds: int) -> _Outcome:
    """The interval from `baseline` to `counter`; sets the new baseline's pending slot."""
    now = counter.read_at
    slot_start = _floor(now, slot_seconds)
    # Only a reading exactly on a slot boundary covers the start of the slot now under way.
    counter.pending_in = counter.pending_out = 0 if slot_start == now else None
    if baseline is None:
        return _Outcome("first")
    elapsed = (now - baseline.read_at).total_seconds()
    if _agent_restarted(baseline.uptime_ticks, counter.uptime_ticks, elapsed):
        return _Outcome("restarted")
    octets_in = _delta(baseline.in_octets, counter.in_octets, elapsed)
    octets_out = _delta(baseline.out_octets, counter.out_octets, elapsed)
    if octets_in is None or octets_out is None:
        return _Outcome("restarted")
    if elapsed > MISSED_POLL_FACTOR * slot_seconds:
        days = _split(baseline.read_at, now, 86400, octets_in, octets_out)
        return _Outcome("missed_polls", volume=[(start.date(), i, o) for start, i, o in days])
    outcome = _Outcome("counted")
    pending_in, pending_out = baseline.pending_in, baseline.pending_out
    parts = _split(baseline.read_at, now, slot_seconds, octets_in, octets_out)
    for start, part_in, part_out in parts:
        outcome.volume.append((start.date(), part_in, part_out))
        if start < baseline.read_at:  # the slot under way at the last reading
            if pending_in is None:
                continue
            part_in, part_out = part_in + pending_in, part_out + pending_out
        if start == slot_start and now != slot_start:  # the slot still under way
            counter.pending_in, counter.pending_out = part_in, part_out
        else:
            outcome.slots.append((start, part_in, part_out))
    return outcome


def _agent_restarted(old_ticks: int, new_ticks: int, elapsed: float) -> bool:
    elapsed_ticks = elapsed * 100
    if new_ticks < old_ticks:
        # sysUpTime is 32 bits: it wraps every 497 days, landing where the clock says it should.
        slack = 0.05 * elapsed_ticks + 500
        if abs(new_ticks + TIMETICKS_MODULUS - old_ticks - elapsed_ticks) > slack:
            return True
        new_ticks += TIMETICKS_MODULUS
    return new_ticks < elapsed_ticks


def _delta(old_signed: int, new_signed: int, elapsed: float) -> int | None:
    old, new = _unsigned(old_signed), _unsigned(new_signed)
    if new >= old:
        return new - old
    wrapped = new + COUNTER_MODULUS - old
    return wrapped if wrapped * 8 <= CEILING_BPS * elapsed else None


def _split(start: datetime, end: datetime, step: int, octets_in: int, octets_out: int):
    """(slot start, octets in, octets out) for each step-aligned slot that (start, end]
    overlaps, the octets shared in proportion to time, summing exactly to the totals."""
    total_us = (end - start) // _MICROSECOND
    parts = []
    done_us = done_in = done_out = 0
    slot = _floor(start, step)
    while slot < end:
        slot_end = slot + timedelta(seconds=step)
        done_us += (min(slot_end, end) - max(slot, start)) // _MICROSECOND
        cum_in, cum_out = octets_in * done_us // total_us, octets_out * done_us // total_us
        parts.append((slot, cum_in - done_in, cum_out - done_out))
        done_in, done_out = cum_in, cum_out
        slot = slot_end
    return parts


def _floor(moment: datetime, step: int) -> datetime:
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return _EPOCH + timedelta(seconds=seconds - seconds % step)


def _signed(value: int) -> int:
    return value - COUNTER_MODULUS if value >= 2**63 else value


def _unsigned(value: int) -> int:
    return value + COUNTER_MODULUS if value < 0 else value


class _DayRows:
    """The day rows one call touches: read once, changed in memory, written in one upsert."""

    def __init__(self, slot_seconds: int):
        self.slot_seconds = slot_seconds
        self.changes = defaultdict(lambda: {"slots": [], "in": 0, "out": 0})

    def add(self, server_id: int, port_id: int, outcome: _Outcome) -> None:
        for day, octets_in, octets_out in outcome.volume:
            change = self.changes[(server_id, day, port_id)]
            change["in"] += octets_in
            change["out"] += octets_out
        for start, octets_in, octets_out in outcome.slots:
            change = self.changes[(server_id, start.date(), port_id)]
            index = (start - _floor(start, 86400)) // timedelta(seconds=self.slot_seconds)
            change["slots"].append((index, octets_in, octets_out))

    def save(self) -> None:
        if not self.changes:
            return
        keys = set(self.changes)
        existing = {
            (row.server_id, row.day, row.port_id): row
            for row in TrafficDay.objects.filter(
                port_id__in={port for _, _, port in keys}, day__in={day for _, day, _ in keys}
            )
            if (row.server_id, row.day, row.port_id) in keys
        }
        rows = []
        for key, change in self.changes.items():
            row = existing.get(key)
            codes = storage.unpack(bytes(row.slots)) if row else None
            if codes is None or storage.slot_seconds_of(codes) != self.slot_seconds:
                # A day begun under another poll interval keeps its volume, not its slots.
                codes = storage.empty_codes(self.slot_seconds)
            for index, octets_in, octets_out in change["slots"]:
                codes[0, index] = storage.encode_octets(octets_in)
                codes[1, index] = storage.encode_octets(octets_out)
            server_id, day, port_id = key
            rows.append(
                TrafficDay(
                    server_id=server_id,
                    day=day,
                    port_id=port_id,
                    bytes_in=(row.bytes_in if row else 0) + change["in"],
                    bytes_out=(row.bytes_out if row else 0) + change["out"],
                    slots=storage.pack(codes),
                )
            )
        TrafficDay.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["server", "day", "port"],
            update_fields=["bytes_in", "bytes_out", "slots"],
            batch_size=500,
        )
