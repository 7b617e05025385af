"""Discovery: walk a switch's interfaces or a PDU's outlets and bring the inventory up to date.

Ports and outlets that vanished from the walk are kept (a server may be connected to them) and
reported, never deleted silently. Each walk also records whether the device answered.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from django.db import transaction
from django.utils import timezone

from inventory.models import Pdu, PduOutlet, SnmpDevice, Switch, SwitchPort
from network import reachability
from network.pdus import OutletInfo, pdu_driver
from network.snmp import SnmpError, SnmpTarget
from network.switches import PortInfo, SwitchDriver
from panel import audit

PORT_FIELDS = ["name", "if_index", "description", "speed_mbps", "admin_status", "oper_status"]
OUTLET_FIELDS = ["name", "power_state"]
NAME_LENGTH = SwitchPort._meta.get_field("name").max_length


@dataclass
class DiscoveryReport:
    """Names of what the walk added, changed and no longer found; how many were unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    unchanged: int = 0


def discover_switch(switch: Switch) -> DiscoveryReport:
    """Walk the switch's interfaces and upsert its ports.

    Ports are matched by name (ifName), which is what is cabled and what staff enter, not by
    ifIndex: switches renumber ifIndexes (a reboot without ifIndex persistence, a new stack
    member), and a server must never move silently to another physical port. A port that
    vanished keeps its row and connections but loses its ifIndex, which may now be another
    port's; it cannot be driven until it is back. Raises SnmpError (recorded on the switch)
    when the walk fails.
    """
    found = _walk(switch, lambda target: SwitchDriver(target).ports())
    if not found and switch.ports.filter(if_index__isnull=False).exists():
        raise SnmpError(
            f"The switch {switch.name} listed no interfaces; its ports were left as they were. "
            "Check its SNMP agent (a restricted view?) and discover it again."
        )
    with transaction.atomic():
        Switch.objects.select_for_update().filter(pk=switch.pk).first()
        return _upsert_ports(switch, _unique_names(found))


def discover_pdu(pdu: Pdu) -> DiscoveryReport:
    """Walk the PDU's outlets and upsert them by outlet number."""
    found = _walk(pdu, lambda target: pdu_driver(target, pdu).outlets())
    with transaction.atomic():
        Pdu.objects.select_for_update().filter(pk=pdu.pk).first()
        return _upsert_outlets(pdu, found)


def _walk(device: SnmpDevice, read: Callable[[SnmpTarget], list]) -> list:
    return reachability.ask(device, lambda: read(SnmpTarget.for_device(device)))


def _unique_names(ports: Sequence[PortInfo]) -> list[PortInfo]:
    """Names are unique on a switch and 64 characters at most: a blank ifName becomes
    "ifIndex N", and a repeated one gets its ifIndex added."""
    seen: set[str] = set()
    unique = []
    for port in ports:
        name = port.name.strip()[:NAME_LENGTH] or f"ifIndex {port.if_index}"
        if name in seen:
            suffix = f" (ifIndex {port.if_index})"
            name = name[: NAME_LENGTH - len(suffix)] + suffix
        seen.add(name)
        unique.append(port if name == port.name else replace(port, name=name))
    return unique


def _upsert_ports(switch: Switch, found: list[PortInfo]) -> DiscoveryReport:
    now = timezone.now()
    existing = {port.name: port for port in switch.ports.all()}
    pairs = [(info, existing.pop(info.name, None)) for info in found]
    vanished = sorted(existing.values(), key=lambda port: port.name)

    report = DiscoveryReport()
    # Free ifIndexes first, so no two rows hold one for a moment (unique per switch).
    moving = [row for info, row in pairs if row is not None and row.if_index != info.if_index]
    moving = [row.pk for row in moving + vanished if row.if_index is not None]
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
        if all(getattr(row, name) == value for name, value in values.items()):
            report.unchanged += 1
            continue
        report.updated.append(info.name)
        for name, value in values.items():
            setattr(row, name, value)
        changed.append(row)
    switch.ports.exclude(pk__in=[row.pk for row in vanished]).update(
        status_read_at=now, discovered_at=now
    )
    SwitchPort.objects.bulk_update(changed, PORT_FIELDS, batch_size=500)
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
        if all(getattr(row, name) == value for name, value in values.items()):
            report.unchanged += 1
            continue
        report.updated.append(str(info.number))
        for name, value in values.items():
            setattr(row, name, value)
        changed.append(row)
    pdu.outlets.exclude(number__in=list(existing)).update(state_read_at=now, discovered_at=now)
    PduOutlet.objects.bulk_update(changed, OUTLET_FIELDS, batch_size=500)
    PduOutlet.objects.bulk_create(created, batch_size=500)
    report.vanished = [str(number) for number in sorted(existing)]
    return report


DISCOVER = {Switch: discover_switch, Pdu: discover_pdu}


def discover(*, actor, device: SnmpDevice) -> DiscoveryReport:
    """Staff's request to walk a switch or PDU: the inventory brought up to date, audited."""
    report = DISCOVER[type(device)](device)
    audit.record(
        actor=actor,
        action=f"{device._meta.model_name}.discover",
        target=device,
        created=len(report.created),
        updated=len(report.updated),
        vanished=report.vanished,
    )
    return report


def summary(report: DiscoveryReport) -> str:
    """One line for staff: what the walk changed."""
    parts = [
        f"{len(report.created)} new",
        f"{len(report.updated)} updated",
        f"{report.unchanged} unchanged",
    ]
    if report.vanished:
        parts.append(f"no longer found: {', '.join(report.vanished)}")
    return ", ".join(parts)
