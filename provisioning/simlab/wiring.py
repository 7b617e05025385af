"""How simlab's machines are cabled: which switch ports and PDU outlet each one uses.

A lab runs in processes of up to MAX_BMCS_PER_PROCESS machines; each process is a rack with
its own switch agent and PDU agent. The n-th machine of a rack (n from 1) has its data port
on ifIndex n ("Gi1/0/n"), its BMC's port on ifIndex BMC_IF_INDEX_BASE + n ("Gi2/0/n", the
management stack member) and PDU outlet n. Nothing here needs the lab running: the demo
and tests create matching Switch/Pdu/SwitchPort/PduOutlet rows from it.
"""

from dataclasses import dataclass

# A large lab runs in several processes, so that it uses every core.
MAX_BMCS_PER_PROCESS = 500
BMC_IF_INDEX_BASE = 1000


@dataclass(frozen=True)
class Wiring:
    bmc_port: int  # the machine's BMC (its UDP port identifies it in simlab)
    rack: int  # 0-based lab process; its switch and PDU agents
    switch_port: int | None  # the rack's switch agent's UDP port, when the lab was given one
    data_if_index: int
    data_if_name: str
    bmc_if_index: int
    bmc_if_name: str
    pdu_port: int | None
    outlet: int


def data_port_name(slot: int) -> str:
    return f"Gi1/0/{slot}"


def bmc_port_name(slot: int) -> str:
    return f"Gi2/0/{slot}"


def outlet_name(bmc_port: int) -> str:
    return f"sim-{bmc_port} PSU1"


def rack_wiring(
    ports: list[int], *, switch_port: int | None = None, pdu_port: int | None = None
) -> list[Wiring]:
    """The cabling of a lab started with these BMC ports (in order) and, if given, these
    first switch/PDU agent ports (`manage.py simlab --switch-port/--pdu-port`: rack r's
    agents are on the given port + r)."""
    wiring = []
    for position, bmc_port in enumerate(ports):
        rack, slot = divmod(position, MAX_BMCS_PER_PROCESS)
        slot += 1
        wiring.append(
            Wiring(
                bmc_port=bmc_port,
                rack=rack,
                switch_port=None if switch_port is None else switch_port + rack,
                data_if_index=slot,
                data_if_name=data_port_name(slot),
                bmc_if_index=BMC_IF_INDEX_BASE + slot,
                bmc_if_name=bmc_port_name(slot),
                pdu_port=None if pdu_port is None else pdu_port + rack,
                outlet=slot,
            )
        )
    return wiring
