"""The traffic poll: every connected data port's counters, read from its switch.

A schedule runs this every minute; a port is read when its last reading is an interval
(`PANEL_TRAFFIC_POLL_SECONDS`) old, so a new port is counted within a minute and the
interval is the setting's alone. All due switches are read at once (bounded), each
switch's ports in few requests; a switch that does not answer leaves a gap, recorded on
the switch (network.reachability), never zeros.
"""

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from inventory.models import Switch, SwitchPort
from network import reachability
from network.snmp import SnmpError, SnmpTarget
from network.switches import CounterReading, poll_counters
from network.traffic.ingest import PortReading, record_readings

# Read a little early rather than skip a round: the schedule runs on whole minutes.
EARLY = timedelta(seconds=30)


@dataclass
class PollReport:
    switches: int = 0
    ports: int = 0
    failed: list[str] = field(default_factory=list)  # switch names
    missing: int = 0  # ports whose counters the switch did not report
    seconds: float = 0.0


def due_ports() -> dict[int, dict[int, int]]:
    """switch id -> {ifIndex: port id} of the connected data ports due for a reading."""
    cutoff = timezone.now() - timedelta(seconds=settings.PANEL_TRAFFIC_POLL_SECONDS) + EARLY
    ports = (
        SwitchPort.objects.data()
        .filter(server__isnull=False, if_index__isnull=False)
        .filter(Q(traffic_counter__isnull=True) | Q(traffic_counter__read_at__lte=cutoff))
        .values_list("switch_id", "if_index", "pk")
    )
    due = defaultdict(dict)
    for switch_id, if_index, port_id in ports:
        due[switch_id][if_index] = port_id
    return due


def poll_round() -> PollReport:
    began = time.monotonic()
    due = due_ports()
    switches = list(Switch.objects.filter(pk__in=due))
    report = PollReport(switches=len(switches))
    requests = [(SnmpTarget.for_device(switch), sorted(due[switch.pk])) for switch in switches]
    readings = poll_counters(requests, concurrency=settings.PANEL_TRAFFIC_POLL_CONCURRENCY)
    for switch, reading in zip(switches, readings, strict=True):
        if isinstance(reading, SnmpError):
            reachability.failed(switch, reading)
            report.failed.append(switch.name)
            continue
        reachability.answered(switch)
        report.ports += len(reading.octets)
        report.missing += len(reading.missing)
        record_readings(_port_readings(reading, due[switch.pk]), read_at=reading.read_at)
    report.seconds = time.monotonic() - began
    return report


def _port_readings(reading: CounterReading, port_ids: dict[int, int]) -> list[PortReading]:
    return [
        PortReading(port_ids[if_index], in_octets, out_octets, reading.uptime_ticks)
        for if_index, (in_octets, out_octets) in reading.octets.items()
    ]
