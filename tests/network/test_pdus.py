"""The PDU drivers against snmpsim serving walks recorded from real APC PDUs (snmpsim-data):
an AP7902B through the sPDU (MasterSwitch) table, an AP8932 through the rPDU table."""

import shutil
import subprocess

import pytest

from inventory.models import Pdu
from network.pdus import OutletInfo, pdu_driver
from network.snmp import SnmpError, SnmpRefused

S_PDU_OUTLET_CTL = "1.3.6.1.4.1.318.1.1.4.4.2.1.3"
R_PDU_OUTLET_COMMAND = "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"


def net_snmp_get(port: int, community: str, oid: str) -> str:
    return subprocess.run(
        ["snmpget", "-v2c", "-c", community, "-Oqv", f"127.0.0.1:{port}", oid],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout.strip()  # fmt: skip


def test_an_apc_masterswitch_lists_its_outlets_with_names_and_states(snmpsim):
    outlets = pdu_driver(snmpsim.target("apc-spdu"), Pdu(profile="apc_spdu")).outlets()
    assert len(outlets) == 16
    assert outlets[0] == OutletInfo(1, "Server 1 PS 1", "on")
    assert outlets[1] == OutletInfo(2, "Server 2 PS 2", "on")
    assert outlets[2] == OutletInfo(3, "Server 3 PS 1", "off")
    assert outlets[15].power_state == "on"


@pytest.mark.skipif(shutil.which("snmpget") is None, reason="net-snmp is installed by .ci/run")
def test_an_apc_masterswitch_outlet_is_switched_on_and_off_and_read_back(snmpsim):
    driver = pdu_driver(snmpsim.target("apc-spdu"), Pdu(profile="apc_spdu"))
    assert driver.outlet_state(5) == "off"
    driver.set_outlet(5, on=True)
    assert driver.outlet_state(5) == "on"
    assert net_snmp_get(snmpsim.port, "apc-spdu", f"{S_PDU_OUTLET_CTL}.5") == "1"
    driver.set_outlet(5, on=False)
    assert net_snmp_get(snmpsim.port, "apc-spdu", f"{S_PDU_OUTLET_CTL}.5") == "2"


def test_an_apc_rack_pdu_lists_its_outlets_and_switches_one(snmpsim):
    driver = pdu_driver(snmpsim.target("apc-rpdu"), Pdu(profile="apc_rpdu"))
    outlets = driver.outlets()
    assert len(outlets) == 24
    assert outlets[0] == OutletInfo(1, "SW-DC01-WEST-01-B", "on")
    assert outlets[12] == OutletInfo(13, "PWR-DC01-XFER-RACK2-01", "on")
    assert outlets[2] == OutletInfo(3, "Outlet 3", "off")
    driver.set_outlet(3, on=True)
    assert driver.outlet_state(3) == "on"
    driver.set_outlet(3, on=False)
    assert driver.outlet_state(3) == "off"


def test_the_generic_profile_switches_the_configured_oid_with_its_values(snmpsim):
    pdu = Pdu(profile="generic", control_oid=f".{S_PDU_OUTLET_CTL}", on_value=1, off_value=2)
    driver = pdu_driver(snmpsim.target("apc-spdu"), pdu)
    assert [outlet.name for outlet in driver.outlets()] == [""] * 16
    driver.set_outlet(7, on=True)
    assert driver.outlet_state(7) == "on"
    driver.set_outlet(7, on=False)
    assert driver.outlet_state(7) == "off"


def test_an_outlet_the_pdu_does_not_have_is_refused(snmpsim):
    driver = pdu_driver(snmpsim.target("apc-rpdu"), Pdu(profile="apc_rpdu"))
    with pytest.raises(SnmpRefused, match="has no outlet 99"):
        driver.outlet_state(99)
    with pytest.raises(SnmpRefused):
        driver.set_outlet(99, on=False)


def test_the_generic_profile_without_its_oid_says_what_to_set():
    with pytest.raises(SnmpError, match="has no control OID or on/off values"):
        pdu_driver(None, Pdu(name="pdu-7", profile="generic", on_value=1, off_value=0))
