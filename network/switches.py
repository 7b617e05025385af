"""Switches over SNMP (IF-MIB): their ports, port status, shutting ports, traffic counters."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from network import snmp
from network.snmp import SnmpError, SnmpRefused, SnmpTarget

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

# IF-MIB's ifAdminStatus / ifOperStatus values, by the names SwitchPort.Status uses.
IF_STATUS = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}
ADMIN_VALUES = {"up": 1, "down": 2}
# Two counters per port: 24 ports and sysUpTime make 49 var-binds, about 1.4 KB of answer.
PORTS_PER_REQUEST = 24
POLL_CONCURRENCY = 32  # switches read at once by a poll round


@dataclass(frozen=True)
class PortInfo:
    if_index: int
    name: str  # ifName; ifDescr on agents without ifXTable
    description: str  # ifDescr
    speed_mbps: int | None  # ifHighSpeed
    admin_status: str
    oper_status: str


@dataclass(frozen=True)
class CounterReading:
    """One switch's octet counters, read together with its uptime.

    `uptime_ticks` (sysUpTime, hundredths of a second) going down between two readings means
    the agent restarted and its counters began again. `missing` lists the ifIndexes the switch
    does not have (or that have no 64-bit counters).
    """

    read_at: datetime
    uptime_ticks: int
    octets: dict[int, tuple[int, int]]  # ifIndex -> (ifHCInOctets, ifHCOutOctets)
    missing: tuple[int, ...] = ()


class SwitchDriver:
    def __init__(self, target: SnmpTarget):
        self.target = target

    def ports(self) -> list[PortInfo]:
        """Every interface the switch lists, by ifIndex."""
        columns = (IF_DESCR, IF_NAME, IF_HIGH_SPEED, IF_ADMIN_STATUS, IF_OPER_STATUS)
        table = snmp.walk(self.target, columns, "walk the interface table")
        descriptions, names, speeds = table[IF_DESCR], table[IF_NAME], table[IF_HIGH_SPEED]
        admin, oper = table[IF_ADMIN_STATUS], table[IF_OPER_STATUS]
        indexes = sorted({int(index) for column in table.values() for index in column})
        return [
            PortInfo(
                if_index=index,
                name=str(names.get(key) or descriptions.get(key) or ""),
                description=str(descriptions.get(key) or ""),
                speed_mbps=speeds.get(key) if isinstance(speeds.get(key), int) else None,
                admin_status=_status(admin.get(key)),
                oper_status=_status(oper.get(key)),
            )
            for index in indexes
            for key in [str(index)]
        ]

    def port_status(self, if_indexes: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(admin, oper) status by ifIndex; ifIndexes the switch does not have are left out."""
        oids = [
            f"{column}.{index}"
            for index in if_indexes
            for column in (IF_ADMIN_STATUS, IF_OPER_STATUS)
        ]
        values = snmp.get(self.target, oids, f"read the status of {_ports(if_indexes)}")
        return {
            index: (_status(admin), _status(values[f"{IF_OPER_STATUS}.{index}"]))
            for index in if_indexes
            if (admin := values[f"{IF_ADMIN_STATUS}.{index}"]) is not None
        }

    def set_admin_status(self, if_indexes: Sequence[int], status: str) -> None:
        """Set ifAdminStatus up or down, then read it back: the switch must report it."""
        value = ADMIN_VALUES[status]
        snmp.set_values(
            self.target,
            [(f"{IF_ADMIN_STATUS}.{index}", value) for index in if_indexes],
            f"set {_ports(if_indexes)} {status}",
        )
        oids = [f"{IF_ADMIN_STATUS}.{index}" for index in if_indexes]
        reported = snmp.get(
            self.target, oids, f"read back the admin status of {_ports(if_indexes)}"
        )
        wrong = {
            index: _status(reported[oid])
            for index, oid in zip(if_indexes, oids, strict=True)
            if reported[oid] != value
        }
        if wrong:
            states = ", ".join(f"ifIndex {index} {state}" for index, state in wrong.items())
            raise SnmpRefused(
                f"Set {_ports(list(wrong))} {status} on the switch at {self.target}, but the "
                f"switch reports {states}. Check the port configuration on the switch."
            )

    def counters(self, if_indexes: Sequence[int]) -> CounterReading:
        return snmp.run(read_counters(self.target, if_indexes))


async def read_counters(target: SnmpTarget, if_indexes: Sequence[int]) -> CounterReading:
    """Octet counters of many ports, PORTS_PER_REQUEST to a request, one request at a time."""
    octets: dict[int, tuple[int, int]] = {}
    missing: list[int] = []
    uptime = None
    for start in range(0, max(len(if_indexes), 1), PORTS_PER_REQUEST):
        chunk = if_indexes[start : start + PORTS_PER_REQUEST]
        oids = [SYS_UPTIME] if uptime is None else []
        oids += [f"{column}.{i}" for i in chunk for column in (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS)]
        values = await snmp.get_async(target, oids, f"read the counters of {_ports(chunk)}")
        if uptime is None:
            uptime = values[SYS_UPTIME]
            if not isinstance(uptime, int):
                raise SnmpError(f"The switch at {target} does not report sysUpTime.")
        for index in chunk:
            counts = values[f"{IF_HC_IN_OCTETS}.{index}"], values[f"{IF_HC_OUT_OCTETS}.{index}"]
            if all(isinstance(count, int) for count in counts):
                octets[index] = counts
            else:
                missing.append(index)
    return CounterReading(
        read_at=datetime.now(UTC), uptime_ticks=uptime, octets=octets, missing=tuple(missing)
    )


async def read_counters_many(
    requests: Sequence[tuple[SnmpTarget, Sequence[int]]], concurrency: int = POLL_CONCURRENCY
) -> list[CounterReading | SnmpError]:
    """A poll round: each switch's reading, or the error that stopped it, in the order given.

    At most `concurrency` switches are read at once; each switch gets one request at a time.
    """
    return await snmp.gather_bounded(
        (read_counters(target, indexes) for target, indexes in requests), concurrency
    )


def poll_counters(
    requests: Sequence[tuple[SnmpTarget, Sequence[int]]], concurrency: int = POLL_CONCURRENCY
) -> list[CounterReading | SnmpError]:
    """`read_counters_many` for sync callers (a django-q2 task)."""
    return snmp.run(read_counters_many(requests, concurrency))


def _status(value) -> str:
    return IF_STATUS.get(value, "unknown")


def _ports(if_indexes: Sequence[int]) -> str:
    if len(if_indexes) == 1:
        return f"port ifIndex {if_indexes[0]}"
    if len(if_indexes) <= 5:
        return "ports ifIndex " + ", ".join(str(index) for index in if_indexes)
    return f"{len(if_indexes)} ports"
