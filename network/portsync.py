"""Port and outlet states: what the panel last read from each switch and PDU, and the sweep.

The sweep reads every due device in parallel (bounded): a switch's connected ports in one
request, a PDU's connected outlets. A device that stays silent is marked unreachable
and read less often (network.reachability). A port whose
admin status is not what the panel set (down while its server is suspended, up otherwise)
and that no operation is changing is drift: it is audited, and the servers whose switch
has the `enforce` policy are reported for the caller to set their ports back.
"""

import concurrent.futures
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from inventory.models import (
    ACTIVE_OPERATION_STATES,
    Pdu,
    PduOutlet,
    Server,
    Switch,
    SwitchPort,
)
from network import reachability
from network.pdus import pdu_driver
from network.snmp import SnmpError, SnmpTarget
from network.switches import SwitchDriver
from panel import audit, polling


@dataclass
class NetworkSweepReport:
    switches: int = 0
    pdus: int = 0
    failed: int = 0
    drifted: list[int] = field(default_factory=list)  # SwitchPort ids
    to_suspend: set[int] = field(default_factory=set)  # server ids, policy enforce
    to_resume: set[int] = field(default_factory=set)
    seconds: float = 0.0


def _due(model, related: str, rows):
    now = timezone.now()
    connected = rows.filter(server__isnull=False)
    return list(
        model.objects.filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .filter(**{f"{related}__server__isnull": False})
        .distinct()
        .prefetch_related(Prefetch(related, connected.select_related("server"), to_attr="wired"))
    )


def _read_switch(switch: Switch):
    ports = [port for port in switch.wired if port.if_index is not None]
    try:
        driver = SwitchDriver(SnmpTarget.for_device(switch))
        return driver.port_status([port.if_index for port in ports]) if ports else {}
    except SnmpError as exc:
        return exc


def _read_pdu(pdu: Pdu):
    try:
        driver = pdu_driver(SnmpTarget.for_device(pdu), pdu)
        return {outlet.number: driver.outlet_state(outlet.number) for outlet in pdu.wired}
    except SnmpError as exc:
        return exc


def _busy_servers(since) -> set[int]:
    """Servers with an operation active now or changed (ended) since the sweep began: their
    ports may have changed under the sweep's reads (reverse relation: the model lives above
    this app)."""
    busy = Q(operations__state__in=ACTIVE_OPERATION_STATES) | Q(operations__updated_at__gte=since)
    return set(Server.objects.filter(busy).values_list("pk", flat=True))


def sweep() -> NetworkSweepReport:
    """Read every due switch and PDU, in parallel, and store what each one said."""
    began, read_since = time.monotonic(), timezone.now()
    switches = _due(Switch, "ports", SwitchPort.objects.all())
    pdus = _due(Pdu, "outlets", PduOutlet.objects.all())
    report = NetworkSweepReport(switches=len(switches), pdus=len(pdus))
    jobs = [(_read_switch, switch) for switch in switches] + [(_read_pdu, pdu) for pdu in pdus]
    workers = max(1, min(settings.PANEL_NETWORK_SYNC_CONCURRENCY, len(jobs)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        readings = list(pool.map(lambda job: job[0](job[1]), jobs))
    now = timezone.now()
    busy = _busy_servers(since=read_since)
    with transaction.atomic():
        for (_, device), reading in zip(jobs, readings, strict=True):
            if isinstance(reading, SnmpError):
                report.failed += 1
                reachability.failed(device, reading)
                continue
            reachability.answered(device)
            if isinstance(device, Switch):
                _store_ports(device, reading, busy, now, read_since, report)
            else:
                _store_outlets(device, reading, now, read_since)
    report.seconds = time.monotonic() - began
    return report


def wanted_admin_status(port: SwitchPort) -> str:
    """What the panel set: a suspended server's data ports down, every other port up."""
    if port.server.suspended and not port.is_ipmi_connection:
        return SwitchPort.Status.DOWN
    return SwitchPort.Status.UP


def _store_ports(switch: Switch, statuses: dict, busy: set[int], now, read_since, report) -> None:
    read = {}
    for port in switch.wired:
        if port.if_index not in statuses:
            continue
        admin, oper = statuses[port.if_index]
        previous = port.admin_status
        read[port.pk] = {"admin_status": admin, "oper_status": oper}
        wanted = wanted_admin_status(port)
        if port.server_id in busy or admin == wanted or admin not in ("up", "down"):
            continue
        if previous != admin:  # audit the change once, not on every sweep
            audit.record(
                actor=None,
                action="switch_port.drift",
                target=port.server,
                port=str(port),
                expected=wanted,
                observed=admin,
            )
            report.drifted.append(port.pk)
        # A BMC port is audited only: suspend and resume drive data ports, never it.
        if switch.drift_policy == Switch.DriftPolicy.ENFORCE and not port.is_ipmi_connection:
            target = report.to_suspend if wanted == "down" else report.to_resume
            target.add(port.server_id)
    # Not over a status an operation read after the sweep began: it is fresher than ours.
    fresher = Q(status_read_at__isnull=True) | Q(status_read_at__lt=read_since)
    polling.update_in_groups(SwitchPort, read, only_where=fresher, status_read_at=now)


def _store_outlets(pdu: Pdu, states: dict, now, read_since) -> None:
    read = {
        outlet.pk: {"power_state": states[outlet.number]}
        for outlet in pdu.wired
        if outlet.number in states
    }
    fresher = Q(state_read_at__isnull=True) | Q(state_read_at__lt=read_since)
    polling.update_in_groups(PduOutlet, read, only_where=fresher, state_read_at=now)
