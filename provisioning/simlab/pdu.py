"""A simulated switched rack PDU speaking APC's PowerNet MIB, one outlet per machine.

Values follow the APC AP8932 walk in snmpsim-data (UPS/apc-8932.snmprec):
rPDUOutletControlOutletCommand (.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.N) and the older
sPDUOutletCtl (.1.3.6.1.4.1.318.1.1.4.4.2.1.3.N) read 1 on / 2 off and take 1 on, 2 off,
3 reboot; rPDUOutletStatusOutletState (.12.3.5.1.1.4.N) reads 1 on / 2 off. The delayed
commands (5-7) and cancel (8) are refused with wrongValue. A reboot switches the outlet off
and back on after REBOOT_SECONDS, with commandPending(1) meanwhile. An outlet powers its
machine's mains: see SimMachine for what the machine and its BMC do then.
"""

import threading

from pysnmp.proto import rfc1902
from pysnmp.smi import error

from provisioning.simlab.machine import SimMachine
from provisioning.simlab.snmpagent import (
    ManagedObjects,
    SnmpCredentials,
    SnmpDevice,
    add_system_group,
)
from provisioning.simlab.wiring import outlet_name

APC_RACK_PDU = (1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6)  # sysObjectID of the recorded AP8932
RPDU_IDENT = (1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 1)
RPDU_OUTLET_CONTROL = (1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 3, 1, 1)
RPDU_OUTLET_STATUS = (1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 5, 1, 1)
SPDU_OUTLET_CTL = (1, 3, 6, 1, 4, 1, 318, 1, 1, 4, 4, 2, 1)
ON, OFF, REBOOT = 1, 2, 3
PENDING, NOT_PENDING = 1, 2
REBOOT_SECONDS = 3.0


class Outlet:
    def __init__(self, number: int, machine: SimMachine):
        self.number = number
        self.machine = machine
        self.name = outlet_name(machine.port)
        self.reboot: threading.Timer | None = None

    def index(self) -> rfc1902.Integer32:
        return rfc1902.Integer32(self.number)

    def label(self) -> rfc1902.OctetString:
        return rfc1902.OctetString(self.name)

    def phase(self) -> rfc1902.Integer32:
        return rfc1902.Integer32(1)

    def state_value(self) -> rfc1902.Integer32:
        return rfc1902.Integer32(ON if self.machine.mains else OFF)

    def pending_value(self) -> rfc1902.Integer32:
        return rfc1902.Integer32(PENDING if self.reboot is not None else NOT_PENDING)

    def command_write(self, value, **where):
        """An SNMP SET of the outlet's command: checked now, applied by what it returns."""
        command = int(value)
        if command not in (ON, OFF, REBOOT):
            raise error.WrongValueError(**where)  # delayed commands and cancel: not simulated
        return lambda: self.command(command)

    def command(self, command: int) -> None:
        if self.reboot is not None:
            self.reboot.cancel()
            self.reboot = None
        self.machine.set_mains(command == ON)
        if command == REBOOT:
            self.reboot = threading.Timer(REBOOT_SECONDS, self._end_reboot)
            self.reboot.daemon = True
            self.reboot.start()

    def _end_reboot(self) -> None:
        self.reboot = None
        self.machine.set_mains(True)

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "name": self.name,
            "machine": self.machine.port,
            "power_state": "on" if self.machine.mains else "off",
            "command_pending": self.reboot is not None,
        }


class SimPdu(SnmpDevice):
    def __init__(
        self,
        machines: list[SimMachine],
        credentials: SnmpCredentials,
        *,
        name: str = "simlab-pdu",
        port: int = 0,
        address: str = "127.0.0.1",
    ):
        self.outlets = {
            number: Outlet(number, machine) for number, machine in enumerate(machines, start=1)
        }
        super().__init__(credentials, name=name, port=port, address=address)

    def _objects(self) -> ManagedObjects:
        objects = ManagedObjects()
        count = len(self.outlets)
        add_system_group(
            objects,
            lambda: self.agent,
            description=f"simlab switched rack PDU, {count} outlets (pysnmp agent, PowerNet MIB)",
            object_id=APC_RACK_PDU,
            name=self.name,
        )
        objects.add((*RPDU_IDENT, 1, 0), lambda: rfc1902.OctetString(self.name))
        objects.add((*RPDU_IDENT, 5, 0), lambda: rfc1902.OctetString("AP8932"))
        objects.add((*RPDU_IDENT, 8, 0), lambda: rfc1902.Integer32(count))
        for number, outlet in self.outlets.items():
            columns = {
                (*RPDU_OUTLET_CONTROL, 1): outlet.index,
                (*RPDU_OUTLET_CONTROL, 2): outlet.label,
                (*RPDU_OUTLET_CONTROL, 3): outlet.phase,
                (*RPDU_OUTLET_STATUS, 1): outlet.index,
                (*RPDU_OUTLET_STATUS, 2): outlet.label,
                (*RPDU_OUTLET_STATUS, 3): outlet.phase,
                (*RPDU_OUTLET_STATUS, 4): outlet.state_value,
                (*RPDU_OUTLET_STATUS, 5): outlet.pending_value,
                (*SPDU_OUTLET_CTL, 1): outlet.index,
                (*SPDU_OUTLET_CTL, 2): outlet.pending_value,
                (*SPDU_OUTLET_CTL, 4): outlet.label,
            }
            for column, read in columns.items():
                objects.add((*column, number), read)
            for column in ((*RPDU_OUTLET_CONTROL, 4), (*SPDU_OUTLET_CTL, 3)):
                objects.add((*column, number), outlet.state_value, outlet.command_write)
        return objects

    def describe(self) -> dict:
        outlets = [self.outlets[number].as_dict() for number in sorted(self.outlets)]
        return {**super().describe(), "outlets": outlets}
