"""A server's data switch ports as the device of a workflow (suspend, resume).

The ports may sit on several switches: the driver drives each switch's ports with that
switch's SNMP driver and records what it read back on the port rows. The BMC's own
port is never among them.
"""

from django.utils import timezone

from inventory.models import Server, Switch, SwitchPort
from network.snmp import SnmpTarget
from network.switches import SwitchDriver
from panel import polling
from provisioning.workflows.snmp_devices import SnmpDevices, talk


class ServerPorts:
    """The server's connected data ports, grouped by switch."""

    def __init__(self, server: Server):
        self.ports = list(
            server.switch_ports.data()
            .filter(if_index__isnull=False)
            .select_related("switch")
            .order_by("switch_id", "if_index")
        )

    def by_switch(self) -> dict:
        groups = {}
        for port in self.ports:
            groups.setdefault(port.switch, []).append(port)
        return groups

    def names(self, ports=None) -> str:
        return ", ".join(str(port) for port in (self.ports if ports is None else ports))

    def set_admin_status(self, status: str) -> None:
        for switch, ports in self.by_switch().items():
            talk(switch, _driver(switch), "set_admin_status", _indexes(ports), status)

    def read(self) -> dict[int, tuple[str, str]]:
        """(admin, oper) by port id, stored on the port rows as read."""
        found = {}
        for switch, ports in self.by_switch().items():
            statuses = talk(switch, _driver(switch), "port_status", _indexes(ports))
            for port in ports:
                if port.if_index in statuses:
                    found[port.pk] = statuses[port.if_index]
        polling.update_in_groups(
            SwitchPort,
            {
                pk: {"admin_status": admin, "oper_status": oper}
                for pk, (admin, oper) in found.items()
            },
            status_read_at=timezone.now(),
        )
        return found


def _driver(switch: Switch) -> SwitchDriver:
    return SwitchDriver(SnmpTarget.for_device(switch))


def _indexes(ports: list[SwitchPort]) -> list[int]:
    return [port.if_index for port in ports]


SWITCH_PORTS = SnmpDevices("the switch", ServerPorts)
