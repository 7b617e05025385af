"""simlab's SNMP switch and PDU, read and driven by Debian's net-snmp tools (a foreign client)."""

import subprocess
import time
import urllib.error

import pytest

from provisioning.bmc import BmcTarget, BmcUnreachable
from provisioning.bmc.ipmi import IpmiDriver
from provisioning.simlab.switch import TrafficShape, machine_base_mbps
from provisioning.simlab.wiring import MAX_BMCS_PER_PROCESS, rack_wiring

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
RPDU_OUTLET_NAME = "1.3.6.1.4.1.318.1.1.12.3.3.1.1.2"
RPDU_OUTLET_COMMAND = "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"
RPDU_OUTLET_STATE = "1.3.6.1.4.1.318.1.1.12.3.5.1.1.4"
SPDU_OUTLET_CTL = "1.3.6.1.4.1.318.1.1.4.4.2.1.3"
READ = ["-v2c", "-c", "public"]
WRITE = ["-v2c", "-c", "private"]
V3 = ["-v3", "-l", "authPriv", "-u", "simlab", "-a", "SHA", "-A", "simlab-auth-key"]
V3 += ["-x", "AES", "-X", "simlab-priv-key"]


def net_snmp(tool: str, agent_port: int, credentials: list[str], *args: str) -> str:
    """Run a net-snmp tool against a simlab agent; its output (numeric OIDs), or the error."""
    result = subprocess.run(
        [tool, "-t", "2", "-r", "1", "-On", *credentials, f"127.0.0.1:{agent_port}", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode:
        raise AssertionError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def values(output: str) -> dict[str, str]:
    """'.oid = value' lines (`-OQ` style, or `= TYPE: value`) as {oid without dot: value}."""
    lines = (line.split(" = ", 1) for line in output.splitlines() if " = " in line)
    return {oid.lstrip("."): value.split(": ", 1)[-1].strip('"') for oid, value in lines}


def get(simlab, *oids: str, credentials=READ) -> list[str]:
    answers = values(net_snmp("snmpget", simlab.switch_port, credentials, *oids))
    return [answers[oid] for oid in oids]


def counters(simlab, if_index: int) -> tuple[int, int]:
    octets_in, octets_out = get(
        simlab, f"{IF_HC_IN_OCTETS}.{if_index}", f"{IF_HC_OUT_OCTETS}.{if_index}"
    )
    return int(octets_in), int(octets_out)


@pytest.fixture
def machine(simlab):
    """A lab machine that is on, its data port up, sending about 100 Mbit/s."""
    port = simlab.take_port()
    simlab.change(port, power="on", traffic_mbps=100)
    return port


def test_switch_walk_names_a_data_port_and_a_bmc_port_for_every_machine(simlab):
    names = values(net_snmp("snmpwalk", simlab.switch_port, READ, IF_NAME))
    descriptions = values(net_snmp("snmpbulkwalk", simlab.switch_port, READ, IF_DESCR))

    wiring = rack_wiring(simlab.ports)
    assert len(names) == 2 * len(simlab.ports)
    assert names[f"{IF_NAME}.1"] == "Gi1/0/1"
    for cable in wiring:
        assert names[f"{IF_NAME}.{cable.data_if_index}"] == cable.data_if_name
        assert names[f"{IF_NAME}.{cable.bmc_if_index}"] == cable.bmc_if_name
    assert (
        descriptions[f"{IF_DESCR}.{wiring[-1].bmc_if_index}"] == f"GigabitEthernet2/0/{len(wiring)}"
    )


def test_ports_report_a_gigabit_speed(simlab):
    assert get(simlab, f"{IF_HIGH_SPEED}.1") == ["1000"]


def test_counters_grow_while_the_machine_is_on_and_stop_when_it_is_off(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index
    first = counters(simlab, if_index)
    time.sleep(0.3)
    second = counters(simlab, if_index)
    simlab.change(machine, power="off")
    third = counters(simlab, if_index)
    time.sleep(0.3)

    assert second[0] > first[0] and second[1] > first[1]
    # 100 Mbit/s out, 42-158 % of it at any moment: 0.3 s is 1.5-6 MB out, 30 % of that in.
    assert 1_000_000 < second[1] - first[1] < 8_000_000
    assert 0.1 < (second[0] - first[0]) / (second[1] - first[1]) < 0.9
    assert counters(simlab, if_index) == third
    assert get(simlab, f"{IF_OPER_STATUS}.{if_index}") == ["2"]


def test_setting_a_port_down_reads_back_down_and_stops_its_traffic(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index
    assert get(simlab, f"{IF_ADMIN_STATUS}.{if_index}", f"{IF_OPER_STATUS}.{if_index}") == [
        "1",
        "1",
    ]

    net_snmp("snmpset", simlab.switch_port, WRITE, f"{IF_ADMIN_STATUS}.{if_index}", "i", "2")
    stopped = counters(simlab, if_index)
    time.sleep(0.3)

    assert get(simlab, f"{IF_ADMIN_STATUS}.{if_index}", f"{IF_OPER_STATUS}.{if_index}") == [
        "2",
        "2",
    ]
    assert counters(simlab, if_index) == stopped
    net_snmp("snmpset", simlab.switch_port, WRITE, f"{IF_ADMIN_STATUS}.{if_index}", "i", "1")
    time.sleep(0.1)
    assert counters(simlab, if_index)[1] > stopped[1]
    assert simlab.switch()["ports"][if_index - 1]["admin"] == "up"


def test_the_bmc_port_stays_up_while_the_machine_is_off(simlab):
    port = simlab.take_port()
    cable = simlab.wiring[port]

    assert get(
        simlab, f"{IF_OPER_STATUS}.{cable.data_if_index}", f"{IF_OPER_STATUS}.{cable.bmc_if_index}"
    ) == [
        "2",
        "1",
    ]


def test_the_v3_user_reads_and_writes_with_sha_and_aes(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index
    net_snmp("snmpset", simlab.switch_port, V3, f"{IF_ADMIN_STATUS}.{if_index}", "i", "2")

    assert get(simlab, f"{IF_ADMIN_STATUS}.{if_index}", credentials=V3) == ["2"]


def test_the_read_community_cannot_write(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index

    with pytest.raises(AssertionError, match="notWritable"):
        net_snmp("snmpset", simlab.switch_port, READ, f"{IF_ADMIN_STATUS}.{if_index}", "i", "2")
    assert get(simlab, f"{IF_ADMIN_STATUS}.{if_index}") == ["1"]


def test_the_switch_refuses_admin_status_testing_and_other_types(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index

    with pytest.raises(AssertionError, match="wrongValue"):
        net_snmp("snmpset", simlab.switch_port, WRITE, f"{IF_ADMIN_STATUS}.{if_index}", "i", "3")
    with pytest.raises(AssertionError, match="wrongType"):
        net_snmp("snmpset", simlab.switch_port, WRITE, f"{IF_ADMIN_STATUS}.{if_index}", "s", "down")
    with pytest.raises(AssertionError, match="notWritable"):
        net_snmp("snmpset", simlab.switch_port, WRITE, f"{IF_NAME}.{if_index}", "s", "uplink")


def test_a_counter_set_near_2_to_the_64_wraps_to_a_small_value(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index
    simlab.change_switch_port(if_index, in_octets=2**64 - 100_000, out_octets=2**64 - 1)
    time.sleep(0.2)  # 100 Mbit/s: 30 % in is about 3.75 MB/s

    octets_in, octets_out = counters(simlab, if_index)

    assert 0 < octets_in < 10_000_000
    assert 0 < octets_out < 10_000_000


def test_restarting_the_switch_resets_sys_uptime_and_counters(simlab, machine):
    if_index = simlab.wiring[machine].data_if_index
    time.sleep(0.2)
    before = int(get(simlab, SYS_UPTIME)[0].split()[0].strip("()"))
    simlab.change_switch(restart=True)

    uptime, octets_in = get(simlab, SYS_UPTIME, f"{IF_HC_IN_OCTETS}.{if_index}")

    assert int(uptime.split()[0].strip("()")) < before
    assert int(octets_in) < 1_000_000  # what 0.1 s at 100 Mbit/s adds at most


def test_a_silent_switch_does_not_answer(simlab):
    simlab.change_switch(silent=True)
    try:
        with pytest.raises(AssertionError, match="Timeout"):
            net_snmp("snmpget", simlab.switch_port, READ, SYS_UPTIME)
    finally:
        simlab.change_switch(silent=False)
    assert get(simlab, SYS_UPTIME)


def outlet(simlab, port: int) -> int:
    return simlab.wiring[port].outlet


def test_the_pdu_names_one_outlet_per_machine(simlab):
    names = values(net_snmp("snmpwalk", simlab.pdu_port, READ, RPDU_OUTLET_NAME))

    assert len(names) == len(simlab.ports)
    assert names[f"{RPDU_OUTLET_NAME}.1"] == f"sim-{simlab.ports[0]} PSU1"


def test_switching_an_outlet_off_powers_the_machine_and_its_bmc_off(simlab, machine):
    number = outlet(simlab, machine)
    cable = simlab.wiring[machine]
    net_snmp("snmpset", simlab.pdu_port, WRITE, f"{RPDU_OUTLET_COMMAND}.{number}", "i", "2")

    state = simlab.machine(machine)
    assert (state["power"], state["outlet"]) == ("off", "off")
    assert values(
        net_snmp("snmpget", simlab.pdu_port, READ, f"{RPDU_OUTLET_COMMAND}.{number}")
    ) == {f"{RPDU_OUTLET_COMMAND}.{number}": "2"}
    assert get(
        simlab, f"{IF_OPER_STATUS}.{cable.data_if_index}", f"{IF_OPER_STATUS}.{cable.bmc_if_index}"
    ) == [
        "2",
        "2",
    ]
    with pytest.raises(urllib.error.HTTPError, match="400"):
        simlab.change(machine, power="on")  # the lab refuses: "its PDU outlet is off"


def test_an_outlet_back_on_brings_the_machine_back_as_its_restore_policy_says(simlab, machine):
    number = outlet(simlab, machine)
    net_snmp("snmpset", simlab.pdu_port, WRITE, f"{SPDU_OUTLET_CTL}.{number}", "i", "2")
    net_snmp("snmpset", simlab.pdu_port, WRITE, f"{SPDU_OUTLET_CTL}.{number}", "i", "1")
    assert simlab.machine(machine)["power"] == "on"  # "previous": it was on

    simlab.change(machine, power_restore_policy="always-off")
    net_snmp("snmpset", simlab.pdu_port, V3, f"{SPDU_OUTLET_CTL}.{number}", "i", "2")
    net_snmp("snmpset", simlab.pdu_port, V3, f"{SPDU_OUTLET_CTL}.{number}", "i", "1")
    state = simlab.machine(machine)
    assert (state["power"], state["outlet"]) == ("off", "on")


def test_an_outlet_reboot_cuts_the_power_then_restores_it(simlab, machine):
    number = outlet(simlab, machine)
    net_snmp("snmpset", simlab.pdu_port, WRITE, f"{RPDU_OUTLET_COMMAND}.{number}", "i", "3")

    assert values(net_snmp("snmpget", simlab.pdu_port, READ, f"{RPDU_OUTLET_STATE}.{number}")) == {
        f"{RPDU_OUTLET_STATE}.{number}": "2"
    }
    state = simlab.wait_for(machine, timeout=10, outlet="on", power="on")
    assert state["power_on_count"] == 1


def test_the_pdu_refuses_delayed_commands(simlab, machine):
    with pytest.raises(AssertionError, match="wrongValue"):
        net_snmp(
            "snmpset",
            simlab.pdu_port,
            WRITE,
            f"{RPDU_OUTLET_COMMAND}.{outlet(simlab, machine)}",
            "i",
            "5",
        )
    assert simlab.machine(machine)["outlet"] == "on"


def test_a_large_lab_is_cabled_one_rack_per_process():
    wiring = rack_wiring(
        list(range(20000, 20000 + MAX_BMCS_PER_PROCESS + 2)), switch_port=161, pdu_port=1161
    )

    last_of_first, first_of_second = wiring[MAX_BMCS_PER_PROCESS - 1], wiring[MAX_BMCS_PER_PROCESS]
    assert (last_of_first.switch_port, last_of_first.data_if_index, last_of_first.outlet) == (
        161,
        500,
        500,
    )
    assert (first_of_second.switch_port, first_of_second.pdu_port) == (162, 1162)
    assert (first_of_second.data_if_name, first_of_second.bmc_if_index) == ("Gi1/0/1", 1001)


def test_machine_rates_average_their_base_over_a_day():
    shape = TrafficShape(seed=7)
    day = 86400.0

    assert shape.integral(0, day) == pytest.approx(day, rel=0.01)
    assert all(1 <= machine_base_mbps(port) <= 200 for port in range(16000, 16500))


def test_a_bmc_without_power_does_not_answer_ipmi_until_its_outlet_is_back_on(simlab, machine):
    bmc = IpmiDriver(BmcTarget("127.0.0.1", machine, "admin", "password"), timeout=1)
    number = outlet(simlab, machine)
    net_snmp("snmpset", simlab.pdu_port, WRITE, f"{RPDU_OUTLET_COMMAND}.{number}", "i", "2")

    with pytest.raises(BmcUnreachable):
        bmc.power("on")
    net_snmp("snmpset", simlab.pdu_port, WRITE, f"{RPDU_OUTLET_COMMAND}.{number}", "i", "1")
    assert bmc.power_state() == "on"  # power restore policy "previous": it was on
