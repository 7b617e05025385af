"""The panel's driver against a BMC no one here wrote: OpenIPMI's ipmi_sim (suite 3 only)."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from provisioning.bmc import BmcAuthFailed, BmcTarget
from provisioning.bmc.ipmi import IpmiDriver
from tests.simlab import free_udp_ports

CONFIG = Path(__file__).parent / "ipmi_sim"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ipmi_sim") is None, reason="openipmi is installed by .ci/run"),
]


@pytest.fixture
def ipmi_sim(tmp_path):
    port = free_udp_ports(1, start=42000)
    state = tmp_path / "state"
    state.mkdir()
    lan_conf = tmp_path / "lan.conf"
    lan_conf.write_text(
        (CONFIG / "lan.conf.template")
        .read_text()
        .replace("{port}", str(port))
        .replace("{chassis}", str(CONFIG / "chassis.sh"))
    )
    process = subprocess.Popen(
        ["ipmi_sim", "-c", str(lan_conf), "-f", str(CONFIG / "sim.emu"), "-s", str(state), "-n"],
        env={**os.environ, "CHASSIS_STATE": str(state)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    yield port, state
    process.terminate()
    process.wait(timeout=10)


def test_the_driver_powers_ipmi_sim_on_off_and_resets_it(ipmi_sim):
    port, state = ipmi_sim
    driver = IpmiDriver(BmcTarget("127.0.0.1", port, "admin", "password"), timeout=15)
    assert driver.power_state() == "off"
    assert driver.cipher_suite == 3  # ipmi_sim does not offer suite 17: the driver fell back
    driver.power("on")
    assert (state / "power").read_text().strip() == "1"
    assert driver.power_state() == "on"
    driver.power("reset")
    assert "reset" in (state / "log").read_text()
    driver.power("off")
    assert driver.power_state() == "off"


def test_a_wrong_password_on_ipmi_sim_is_an_auth_error(ipmi_sim):
    port, _ = ipmi_sim
    with pytest.raises(BmcAuthFailed):
        IpmiDriver(BmcTarget("127.0.0.1", port, "admin", "nope"), timeout=15).power_state()
