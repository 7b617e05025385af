"""The switch driver against snmpsim serving an IF-MIB switch: ports, status, shutting ports,
counters, and a poll round over several switches."""

import shutil
import subprocess
import time

import pytest

from network.snmp import SnmpRefused, SnmpTarget, SnmpUnreachable
from network.switches import CounterReading, PortInfo, SwitchDriver, poll_counters
from tests.network.conftest import (
    BIG_SWITCH_PORTS,
    NOT_APPLIED_PORT,
    SWITCH_PORTS,
    counter_in,
    counter_out,
)
from tests.simlab import free_udp_ports

net_snmp = pytest.mark.skipif(
    shutil.which("snmpget") is None, reason="net-snmp is installed by .ci/run"
)


def net_snmp_admin_status(port: int, if_index: int) -> str:
    return subprocess.run(
        ["snmpget", "-v2c", "-c", "switch", "-Oqv", f"127.0.0.1:{port}",
         f"1.3.6.1.2.1.2.2.1.7.{if_index}"],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout.strip()  # fmt: skip


def test_ports_lists_every_interface_with_its_name_speed_and_status(snmpsim):
    ports = SwitchDriver(snmpsim.target("switch")).ports()
    assert len(ports) == 1 + len(SWITCH_PORTS)
    assert ports[0] == PortInfo(1, "Vlan1", "Vlan1", None, "up", "up")  # no ifXTable row
    assert ports[1] == PortInfo(1001, "Gi1/0/1", "GigabitEthernet1/0/1", 1000, "up", "up")
    assert ports[2].oper_status == "down"
    assert [port.if_index for port in ports[1:]] == sorted(SWITCH_PORTS)


def test_port_status_reads_admin_and_oper_status_and_leaves_out_unknown_ports(snmpsim):
    status = SwitchDriver(snmpsim.target("switch")).port_status([1003, 1004, 9999])
    assert status == {1003: ("up", "up"), 1004: ("up", "down")}


@net_snmp
def test_setting_ports_down_and_up_is_read_back_and_seen_by_net_snmp(snmpsim):
    driver = SwitchDriver(snmpsim.v3_target())
    driver.set_admin_status([1010, 1011], "down")
    assert driver.port_status([1010, 1011]) == {1010: ("down", "down"), 1011: ("down", "up")}
    assert net_snmp_admin_status(snmpsim.port, 1010) == "2"
    driver.set_admin_status([1010, 1011], "up")
    assert net_snmp_admin_status(snmpsim.port, 1011) == "1"


@net_snmp
def test_a_port_shut_with_net_snmp_reads_down(snmpsim):
    subprocess.run(
        ["snmpset", "-v2c", "-c", "switch", f"127.0.0.1:{snmpsim.port}",
         "1.3.6.1.2.1.2.2.1.7.1020", "i", "2"],
        capture_output=True, timeout=20, check=True,
    )  # fmt: skip
    assert SwitchDriver(snmpsim.target("switch")).port_status([1020])[1020][0] == "down"


def test_a_port_that_keeps_reporting_up_after_the_set_is_refused(snmpsim):
    with pytest.raises(SnmpRefused) as caught:
        SwitchDriver(snmpsim.target("switch")).set_admin_status([1012, NOT_APPLIED_PORT], "down")
    assert caught.value.message == (
        f"Set port ifIndex {NOT_APPLIED_PORT} down on the switch at 127.0.0.1:{snmpsim.port}, "
        f"but the switch reports ifIndex {NOT_APPLIED_PORT} up. Check the port configuration "
        "on the switch."
    )


def test_setting_a_port_the_switch_does_not_have_is_refused(snmpsim):
    with pytest.raises(SnmpRefused, match="no writable"):
        SwitchDriver(snmpsim.target("switch")).set_admin_status([9999], "down")


def test_counters_read_64_bit_octets_and_uptime_for_many_ports_at_once(snmpsim):
    indexes = sorted(SWITCH_PORTS)
    reading = SwitchDriver(snmpsim.target("switch")).counters([*indexes, 1, 9999])
    assert isinstance(reading, CounterReading)
    assert reading.uptime_ticks == 4242
    assert reading.octets == {i: (counter_in(i), counter_out(i)) for i in indexes}
    assert reading.missing == (1, 9999)  # Vlan1 has no 64-bit counters; 9999 does not exist


def test_a_poll_round_returns_each_switchs_reading_or_its_error_within_the_bound(
    snmpsim, fast_snmp
):
    dead = SnmpTarget("127.0.0.1", free_udp_ports(1, start=44500), community="public")
    requests = [
        (snmpsim.target("switch"), [1001, 1002]),
        (dead, [1, 2]),
        (snmpsim.v3_target(), [1003]),
        (snmpsim.target("wrong-community"), [1001]),
        (snmpsim.target("big"), [10000, 10999]),
    ]
    started = time.monotonic()
    results = poll_counters(requests)
    assert time.monotonic() - started < 1.0 + 1.0  # the two silent ones waited side by side
    assert results[0].octets == {
        1001: (counter_in(1001), counter_out(1001)),
        1002: (counter_in(1002), counter_out(1002)),
    }
    assert isinstance(results[1], SnmpUnreachable)
    assert results[2].octets == {1003: (counter_in(1003), counter_out(1003))}
    assert isinstance(results[3], SnmpUnreachable)
    assert results[4].octets[10999] == (counter_in(10999), counter_out(10999))


@pytest.mark.e2e
def test_a_thousand_ports_are_walked_and_their_counters_read(snmpsim):
    driver = SwitchDriver(snmpsim.target("big"))
    ports = driver.ports()
    assert len(ports) == BIG_SWITCH_PORTS
    started = time.monotonic()
    reading = driver.counters([port.if_index for port in ports])
    elapsed = time.monotonic() - started
    assert len(reading.octets) == BIG_SWITCH_PORTS
    assert reading.octets[10500] == (counter_in(10500), counter_out(10500))
    assert elapsed < 30, f"{elapsed:.1f} s for {BIG_SWITCH_PORTS} ports"
