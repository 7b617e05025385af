"""Discovery: walk a switch's interfaces or a PDU's outlets and bring the inventory up to date.

Ports and outlets that vanished from the walk are kept (a server may be connected to them) and
reported, never deleted silently. Each walk also records whether the device answered.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inventory.models import Pdu, PduOutlet, SnmpDevice, Switch, SwitchPort
from network.pdus import OutletInfo, pdu_driver
from network.snmp import SnmpError, SnmpTarget, SnmpUnreachable
from network.switches import PortInfo, SwitchDriver

PORT_FIELDS = ["name", "if_index", "description", "speed_mbps", "admin_status", "oper_status"]
OUTLET_FIELDS = ["name", "power_state"]


@dataclass
class DiscoveryReport:
    """Names of what the walk added, changed and no longer found; how many were unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    unchanged: int = 0


def discover_switch(switch: Switch) -> DiscoveryReport:
    """Walk the switch's interfaces and upsert its ports.

    A port is matched by name first, then by ifIndex: switches may renumber ifIndexes (after a
    reboot, a new stack member), and a server must stay on the port it is cabled to. A port
    that vanished keeps its row and connections but loses its ifIndex, which may now belong to
    another port. Raises SnmpError (recorded on the switch) when the walk fails.
    """
    found = _walk(switch, lambda target: SwitchDriver(target).ports())
    with transaction.atomic():
        Switch.objects.select_for_update().filter(pk=switch.pk).first()
        return _upsert_ports(switch, _unique_names(found))


def discover_pdu(pdu: Pdu) -> DiscoveryReport:
    """Walk the PDU's outlets and upsert them by outlet number."""
    found = _walk(pdu, lambda target: pdu_driver(target, pdu).outlets())
    with transaction.atomic():
        Pdu.objects.select_for_update().filter(pk=pdu.pk).first()
        return _upsert_outlets(pdu, found)


def record_reachable(device: SnmpDevice) -> None:
    """The device answered: clear its failure count and error."""
    now = timezone.now()
    type(device).objects.filter(pk=device.pk).update(
        reachable=True, last_seen=now, last_error="", consecutive_failures=0
    )
    device.reachable, device.last_seen, device.last_error = True, now, ""
    device.consecutive_failures = 0


def record_failure(device: SnmpDevice, error: SnmpError) -> None:
    """A request failed: count it and keep the message. Only silence makes it unreachable."""
    answered = not isinstance(error, SnmpUnreachable)
    changes = {"last_error": error.message[:500], "reachable": answered}
    if answered:
        changes["last_seen"] = timezone.now()
    type(device).objects.filter(pk=device.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, **changes
    )
    for name, value in changes.items():
        setattr(device, name, value)
    device.consecutive_failures += 1


def _walk(device: SnmpDevice, read: Callable[[SnmpTarget], list]) -> list:
    try:
        found = read(SnmpTarget.for_device(device))
    except SnmpError as exc:
        record_failure(device, exc)
        raise
    record_reachable(device)
    return found


def _unique_names(ports: Sequence[PortInfo]) -> list[PortInfo]:
    """Names must be unique on a switch: a blank or repeated ifName gets its ifIndex."""
    seen: set[str] = set()
    unique = []
    for port in ports:
        name = port.name.strip() or f"ifIndex {port.if_index}"
        if name in seen:
            name = f"{name} (ifIndex {port.if_index})"
        seen.add(name)
        unique.append(port if name == port.name else replace(port, name=name))
    return unique


def _upsert_ports(switch: Switch, found: list[PortInfo]) -> DiscoveryReport:
    now = timezone.now()
    existing = list(switch.ports.all())
    by_name = {port.name: port for port in existing}
    by_index = {port.if_index: port for port in existing if port.if_index is not None}
    walked_names = {info.name for info in found}
    pairs: list[tuple[PortInfo, SwitchPort | None]] = []
    for info in found:
        row = by_name.get(info.name)
        if row is None:
            row = by_index.get(info.if_index)
            if row is not None and row.name in walked_names:
                row = None  # that row is another walked port's, by its name
        pairs.append((info, row))
    matched = {row.pk for _, row in pairs if row is not None}

    report = DiscoveryReport()
    vanished = [row for row in existing if row.pk not in matched]
    # Free ifIndexes first, so no two rows hold one for a moment (unique per switch).
    moving = [row.pk for info, row in pairs if row is not None and row.if_index != info.if_index]
    moving += [row.pk for row in vanished if row.if_index is not None]
    if moving:
        SwitchPort.objects.filter(pk__in=moving).update(if_index=None)
    changed, created = [], []
    for info, row in pairs:
        values = {
            "name": info.name,
            "if_index": info.if_index,
            "description": info.description[:255],
            "speed_mbps": info.speed_mbps,
            "admin_status": info.admin_status,
            "oper_status": info.oper_status,
        }
        if row is None:
            created.append(
                SwitchPort(switch=switch, **values, status_read_at=now, discovered_at=now)
            )
            report.created.append(info.name)
            continue
        if any(getattr(row, name) != value for name, value in values.items()):
            report.updated.append(info.name)
        else:
            report.unchanged += 1
        for name, value in values.items():
            setattr(row, name, value)
        row.status_read_at = row.discovered_at = now
        changed.append(row)
    SwitchPort.objects.bulk_update(
        changed, [*PORT_FIELDS, "status_read_at", "discovered_at"], batch_size=500
    )
    SwitchPort.objects.bulk_create(created, batch_size=500)
    report.vanished = [row.name for row in vanished]
    return report


def _upsert_outlets(pdu: Pdu, found: list[OutletInfo]) -> DiscoveryReport:
    now = timezone.now()
    existing = {outlet.number: outlet for outlet in pdu.outlets.all()}
    report = DiscoveryReport()
    changed, created = [], []
    for info in found:
        values = {"name": info.name[:64], "power_state": info.power_state}
        row = existing.pop(info.number, None)
        if row is None:
            created.append(
                PduOutlet(
                    pdu=pdu, number=info.number, **values, state_read_at=now, discovered_at=now
                )
            )
            report.created.append(str(info.number))
            continue
        if any(getattr(row, name) != value for name, value in values.items()):
            report.updated.append(str(info.number))
        else:
            report.unchanged += 1
        for name, value in values.items():
            setattr(row, name, value)
        row.state_read_at = row.discovered_at = now
        changed.append(row)
    PduOutlet.objects.bulk_update(
        changed, [*OUTLET_FIELDS, "state_read_at", "discovered_at"], batch_size=500
    )
    PduOutlet.objects.bulk_create(created, batch_size=500)
    report.vanished = [str(number) for number in sorted(existing)]
    return report
