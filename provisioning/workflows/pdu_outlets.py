"""A server's PDU outlets as the device of a workflow (outlet on, off, cycle).

A server with two power supplies has two outlets, perhaps on two PDUs: the driver
switches each with that PDU's driver and records the states it read on the outlet rows.
"""

from django.utils import timezone

from inventory.models import Pdu, PduOutlet, Server
from network.pdus import pdu_driver
from network.snmp import SnmpTarget
from panel import polling
from provisioning.workflows.snmp_devices import SnmpDevices, talk


class ServerOutlets:
    def __init__(self, server: Server):
        self.outlets = list(server.pdu_outlets.select_related("pdu").order_by("pdu_id", "number"))

    def names(self, outlets=None) -> str:
        return ", ".join(str(outlet) for outlet in (self.outlets if outlets is None else outlets))

    def switch(self, on: bool) -> None:
        for outlet in self.outlets:
            talk(outlet.pdu, _driver(outlet.pdu), "set_outlet", outlet.number, on)

    def read(self) -> dict[int, str]:
        """Power state by outlet id, stored on the outlet rows as read."""
        found = {
            outlet.pk: talk(outlet.pdu, _driver(outlet.pdu), "outlet_state", outlet.number)
            for outlet in self.outlets
        }
        polling.update_in_groups(
            PduOutlet,
            {pk: {"power_state": state} for pk, state in found.items()},
            state_read_at=timezone.now(),
        )
        return found


def _driver(pdu: Pdu):
    return pdu_driver(SnmpTarget.for_device(pdu), pdu)


PDU_OUTLETS = SnmpDevices("the PDU", ServerOutlets)
