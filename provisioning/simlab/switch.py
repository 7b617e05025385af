"""A simulated top-of-rack switch: IF-MIB over SNMP, one data port and one BMC port per machine.

Ports are cabled as `wiring` says. A port is oper up when it is admin up and its far end has
power: the machine is on (data port) or its outlet is (BMC port). While oper up a port
carries traffic: a per-machine base rate (1-200 Mbit/s out, 30 % of it in; BMC ports a few
kbit/s) swelling and ebbing over the day, the hour and ten minutes. Counters are the exact
integral of that rate over the time the port was up, worked out when read (or when the port
or its machine changes state), so no thread ticks. Admin status is writable (up/down) and
survives `restart`, as a switch whose configuration was saved; counters and sysUpTime don't.
"""

import functools
import math
import random
import threading
import time
from dataclasses import dataclass, field

from pysnmp.proto import rfc1902
from pysnmp.smi import error

from provisioning.simlab.machine import SimMachine
from provisioning.simlab.snmpagent import (
    ManagedObjects,
    SnmpCredentials,
    SnmpDevice,
    add_system_group,
)
from provisioning.simlab.wiring import BMC_IF_INDEX_BASE, bmc_port_name, data_port_name

IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IF_X_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
PYSNMP_ENTERPRISE = (1, 3, 6, 1, 4, 1, 20408)  # sysObjectID: an agent built on pysnmp
ETHERNET_CSMACD = 6
ADMIN_UP, ADMIN_DOWN = OPER_UP, OPER_DOWN = 1, 2
COUNTER64 = 2**64
# (amplitude, period in seconds) of the rate's variations around its base.
VARIATIONS = ((0.35, 86400.0), (0.15, 3797.0), (0.08, 613.0))
IN_SHARE = 0.3  # a hosted server sends more than it receives
BMC_MBPS = 0.005
PORT_SPEED_MBPS = 1000


class TrafficShape:
    """A rate's shape over time: 1 on average, between 0.42 and 1.58, with its own phases."""

    def __init__(self, seed: int):
        rng = random.Random(seed)
        self.phases = [rng.uniform(0, 2 * math.pi) for _ in VARIATIONS]

    def integral(self, start: float, end: float) -> float:
        """∫ shape(t) dt from `start` to `end` (Unix seconds)."""
        total = end - start
        for (amplitude, period), phase in zip(VARIATIONS, self.phases, strict=True):
            omega = 2 * math.pi / period
            total -= (
                amplitude
                / omega
                * (math.cos(omega * end + phase) - math.cos(omega * start + phase))
            )
        return total


def machine_base_mbps(bmc_port: int) -> float:
    """The average rate the machine behind this BMC sends at, 1-200 Mbit/s."""
    return round(random.Random(bmc_port).uniform(1, 200), 1)


@dataclass
class SwitchPort:
    if_index: int
    name: str
    machine: SimMachine
    to_bmc: bool
    mbps: float
    admin_up: bool = True
    in_octets: int = 0
    out_octets: int = 0
    part_octets: list = field(default_factory=lambda: [0.0, 0.0], repr=False)  # in, out
    banked_at: float = field(default_factory=time.time)
    shape_in: TrafficShape = field(init=False, repr=False)
    shape_out: TrafficShape = field(init=False, repr=False)

    def __post_init__(self):
        seed = self.machine.port * 2 + self.to_bmc
        self.shape_in, self.shape_out = TrafficShape(seed), TrafficShape(-seed - 1)

    @property
    def description(self) -> str:
        """ifDescr, the long form of ifName."""
        return "GigabitEthernet" + self.name.removeprefix("Gi")

    @property
    def alias(self) -> str:
        return f"sim-{self.machine.port}" + (" BMC" if self.to_bmc else "")

    @property
    def oper_up(self) -> bool:
        far_end_powered = self.machine.mains if self.to_bmc else self.machine.power == "on"
        return self.admin_up and far_end_powered

    def bank(self, now: float) -> None:
        """Add the traffic since the last bank to the counters. Switch lock held."""
        if self.oper_up and now > self.banked_at:
            octets_per_second = self.mbps * 1e6 / 8
            in_octets = self.part_octets[0] + IN_SHARE * octets_per_second * self.shape_in.integral(
                self.banked_at, now
            )
            out_octets = self.part_octets[1] + octets_per_second * self.shape_out.integral(
                self.banked_at, now
            )
            # Whole octets counted (exactly: ints, even near 2**64), the fractions carried.
            self.in_octets += int(in_octets)
            self.out_octets += int(out_octets)
            self.part_octets = [in_octets % 1, out_octets % 1]
        self.banked_at = now

    def as_dict(self) -> dict:
        return {
            "if_index": self.if_index,
            "name": self.name,
            "machine": self.machine.port,
            "to_bmc": self.to_bmc,
            "admin": "up" if self.admin_up else "down",
            "oper": "up" if self.oper_up else "down",
            "in_octets": self.in_octets % COUNTER64,
            "out_octets": self.out_octets % COUNTER64,
            "mbps": self.mbps,
        }


class SimSwitch(SnmpDevice):
    def __init__(
        self,
        machines: list[SimMachine],
        credentials: SnmpCredentials,
        *,
        name: str = "simlab-switch",
        port: int = 0,
        address: str = "127.0.0.1",
    ):
        self.lock = threading.Lock()
        self.ports: dict[int, SwitchPort] = {}
        for slot, machine in enumerate(machines, start=1):
            data = SwitchPort(
                slot, data_port_name(slot), machine, False, machine_base_mbps(machine.port)
            )
            bmc = SwitchPort(BMC_IF_INDEX_BASE + slot, bmc_port_name(slot), machine, True, BMC_MBPS)
            self.ports[data.if_index] = data
            self.ports[bmc.if_index] = bmc
            machine.power_watchers.append(lambda ports=(data, bmc): self._bank(*ports))
        self.data_port = {
            port.machine.port: port for port in self.ports.values() if not port.to_bmc
        }
        super().__init__(credentials, name=name, port=port, address=address)

    def _bank(self, *ports: SwitchPort) -> None:
        with self.lock:
            now = time.time()
            for port in ports:
                port.bank(now)

    def _counter(self, port: SwitchPort, direction: str, bits: int):
        """ifInOctets/ifOutOctets (32 bits) or ifHCInOctets/ifHCOutOctets (64), as of now."""
        with self.lock:
            port.bank(time.time())
            octets = getattr(port, direction)
        return (rfc1902.Counter64 if bits == 64 else rfc1902.Counter32)(octets % 2**bits)

    def _objects(self) -> ManagedObjects:
        objects = ManagedObjects()
        add_system_group(
            objects,
            lambda: self.agent,
            description=f"simlab switch, {len(self.ports)} ports (pysnmp agent)",
            object_id=PYSNMP_ENTERPRISE,
            name=self.name,
        )
        objects.add((*IF_NUMBER, 0), lambda: rfc1902.Integer32(len(self.ports)))
        for index, port in self.ports.items():
            columns = {
                (*IF_ENTRY, 1): lambda index=index: rfc1902.Integer32(index),
                (*IF_ENTRY, 2): lambda port=port: rfc1902.OctetString(port.description),
                (*IF_ENTRY, 3): lambda: rfc1902.Integer32(ETHERNET_CSMACD),
                (*IF_ENTRY, 5): lambda: rfc1902.Gauge32(PORT_SPEED_MBPS * 10**6),
                (*IF_ENTRY, 8): lambda port=port: rfc1902.Integer32(
                    OPER_UP if port.oper_up else OPER_DOWN
                ),
                (*IF_ENTRY, 10): functools.partial(self._counter, port, "in_octets", 32),
                (*IF_ENTRY, 16): functools.partial(self._counter, port, "out_octets", 32),
                (*IF_X_ENTRY, 1): lambda port=port: rfc1902.OctetString(port.name),
                (*IF_X_ENTRY, 6): functools.partial(self._counter, port, "in_octets", 64),
                (*IF_X_ENTRY, 10): functools.partial(self._counter, port, "out_octets", 64),
                (*IF_X_ENTRY, 15): lambda: rfc1902.Gauge32(PORT_SPEED_MBPS),
                (*IF_X_ENTRY, 18): lambda port=port: rfc1902.OctetString(port.alias),
            }
            for column, read in columns.items():
                objects.add((*column, index), read)
            objects.add(
                (*IF_ENTRY, 7, index),
                lambda port=port: rfc1902.Integer32(ADMIN_UP if port.admin_up else ADMIN_DOWN),
                functools.partial(self._admin_write, port),
            )
        return objects

    def _admin_write(self, port: SwitchPort, value, **where):
        if int(value) not in (ADMIN_UP, ADMIN_DOWN):
            raise error.WrongValueError(**where)  # testing(3): not something this switch does
        return lambda: self.set_admin(port, "up" if int(value) == ADMIN_UP else "down")

    def set_admin(self, port: SwitchPort, status: str) -> None:
        with self.lock:
            port.bank(time.time())
            port.admin_up = status == "up"

    # Test hooks (the lab's control API).

    def describe(self) -> dict:
        with self.lock:
            now = time.time()
            for port in self.ports.values():
                port.bank(now)
            ports = [self.ports[index].as_dict() for index in sorted(self.ports)]
        return {**super().describe(), "sys_uptime": self.agent.sys_uptime(), "ports": ports}

    def change(self, changes: dict) -> dict:
        """Test hooks: "silent", "restart" (counters and sysUpTime back to 0), and
        "uptime" (seconds: an agent that has been up that long)."""
        if "uptime" in changes:
            self.agent.started = time.monotonic() - float(changes["uptime"])
        if changes.get("restart"):
            with self.lock:
                self.agent.started = time.monotonic()
                now = time.time()
                for port in self.ports.values():
                    port.in_octets = port.out_octets = 0
                    port.banked_at = now
        return super().change(changes)

    def change_port(self, if_index: int, changes: dict) -> dict:
        port = self.ports[if_index]
        if "admin" in changes:
            if changes["admin"] not in ("up", "down"):
                raise ValueError('admin is "up" or "down"')
            self.set_admin(port, changes["admin"])
        with self.lock:
            port.bank(time.time())
            for direction in ("in_octets", "out_octets"):
                if direction in changes:
                    setattr(port, direction, int(changes[direction]) % COUNTER64)
            if "mbps" in changes:
                port.mbps = max(0.0, float(changes["mbps"]))
            return port.as_dict()
