"""Switched PDUs over SNMP: their outlets, outlet state, switching outlets on and off.

Each kind of PDU is a profile: where its outlet table lives and what its values mean. A new
kind of PDU is a new entry in PROFILES. A power cycle (off, confirm, wait, on, confirm) is the
operation's work, not the driver's.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from inventory.models import Pdu
from network import snmp
from network.snmp import SnmpError, SnmpRefused, SnmpTarget

# After a write, the state is read back until it shows, at these delays (seconds): some PDUs
# take a moment to switch a relay.
READ_BACK_DELAYS = (0, 0.25, 0.5)


@dataclass(frozen=True)
class OutletInfo:
    number: int
    name: str
    power_state: str  # "on", "off", or "unknown" for any other value the PDU reports


@dataclass(frozen=True)
class OutletTable:
    """A PDU's outlet columns (the outlet number is appended) and their values."""

    control: str  # written to switch an outlet
    state: str  # read for its state
    name: str | None  # outlet names, where the MIB has them
    on: int
    off: int


# PowerNet-MIB sPDUOutletControlTable: sPDUOutletCtl (write 1 on, 2 off, 3 reboot; reads
# 1 on, 2 off) and sPDUOutletCtlName, as APC MasterSwitch units and rack PDUs report them.
APC_SPDU = OutletTable(
    control="1.3.6.1.4.1.318.1.1.4.4.2.1.3",
    state="1.3.6.1.4.1.318.1.1.4.4.2.1.3",
    name="1.3.6.1.4.1.318.1.1.4.4.2.1.4",
    on=1,
    off=2,
)
# PowerNet-MIB rPDUOutletControlTable: rPDUOutletControlOutletCommand (write 1 immediateOn,
# 2 immediateOff, 3 immediateReboot; reads 1 on, 2 off) and rPDUOutletControlOutletName.
APC_RPDU = OutletTable(
    control="1.3.6.1.4.1.318.1.1.12.3.3.1.1.4",
    state="1.3.6.1.4.1.318.1.1.12.3.3.1.1.4",
    name="1.3.6.1.4.1.318.1.1.12.3.3.1.1.2",
    on=1,
    off=2,
)


def generic_table(pdu: Pdu) -> OutletTable:
    if not pdu.control_oid or pdu.on_value is None or pdu.off_value is None:
        raise SnmpError(
            f"The PDU {pdu.name} uses the generic profile but has no control OID or on/off "
            "values. Set them on the PDU."
        )
    control = pdu.control_oid.strip().strip(".")
    return OutletTable(
        control=control,
        state=pdu.state_oid.strip().strip(".") or control,
        name=None,
        on=pdu.on_value,
        off=pdu.off_value,
    )


PROFILES: dict[str, Callable[[Pdu], OutletTable]] = {
    Pdu.Profile.APC_SPDU: lambda pdu: APC_SPDU,
    Pdu.Profile.APC_RPDU: lambda pdu: APC_RPDU,
    Pdu.Profile.GENERIC: generic_table,
}


class PduDriver:
    def __init__(self, target: SnmpTarget, table: OutletTable):
        self.target = target
        self.table = table

    def outlets(self) -> list[OutletInfo]:
        """Every outlet the PDU lists in its state column."""
        columns = [self.table.state] + ([self.table.name] if self.table.name else [])
        found = snmp.walk(self.target, columns, "walk the outlet table")
        names = found[self.table.name] if self.table.name else {}
        outlets = [
            OutletInfo(int(key), str(names.get(key) or ""), self._power_state(value))
            for key, value in found[self.table.state].items()
            if key.isdigit()
        ]
        return sorted(outlets, key=lambda outlet: outlet.number)

    def outlet_state(self, number: int) -> str:
        """'on' or 'off' ('unknown' while the PDU reports anything else, e.g. a pending switch)."""
        oid = f"{self.table.state}.{number}"
        value = snmp.get(self.target, [oid], f"read the state of outlet {number}")[oid]
        if value is None:
            raise SnmpRefused(f"The PDU at {self.target} has no outlet {number}.")
        return self._power_state(value)

    def set_outlet(self, number: int, on: bool) -> None:
        """Switch the outlet, then read it back until the PDU reports the new state."""
        wanted = "on" if on else "off"
        value = self.table.on if on else self.table.off
        snmp.set_values(
            self.target,
            [(f"{self.table.control}.{number}", value)],
            f"switch outlet {number} {wanted}",
        )
        for delay in READ_BACK_DELAYS:
            time.sleep(delay)
            state = self.outlet_state(number)
            if state == wanted:
                return
        raise SnmpRefused(
            f"Switched outlet {number} {wanted} on the PDU at {self.target}, but the PDU "
            f"reports it {state}. Check the outlet on the PDU."
        )

    def _power_state(self, value) -> str:
        return {self.table.on: "on", self.table.off: "off"}.get(value, "unknown")


def pdu_driver(target: SnmpTarget, pdu: Pdu) -> PduDriver:
    """The driver for `pdu`'s profile."""
    return PduDriver(target, PROFILES[pdu.profile](pdu))
