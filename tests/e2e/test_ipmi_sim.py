"""The panel's driver against a BMC no one here wrote: OpenIPMI's ipmi_sim (suite 3 only)."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provisioning.bmc import BmcAuthFailed, BmcTarget
from provisioning.bmc.ipmi import IpmiDriver
from tests.e2e.consoles import console_of
from tests.e2e.workers import wait_until
from tests.factories import make_server
from tests.simlab import free_tcp_port, free_udp_ports

CONFIG = Path(__file__).parent / "ipmi_sim"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ipmi_sim") is None, reason="openipmi is installed by .ci/run"),
]


@contextmanager
def running_ipmi_sim(folder: Path, sol: str = "") -> Iterator[tuple[int, Path]]:
    """ipmi_sim on a free loopback port; `sol` names its serial port ("tcp:HOST:PORT")."""
    port = free_udp_ports(1, start=42000)
    state = folder / "state"
    state.mkdir()
    lan_conf = folder / "lan.conf"
    lan_conf.write_text(
        (CONFIG / "lan.conf.template")
        .read_text()
        .replace("{port}", str(port))
        .replace("{chassis}", str(CONFIG / "chassis.sh"))
        .replace("{sol}", f'  sol "{sol}" 115200' if sol else "")
    )
    process = subprocess.Popen(
        ["ipmi_sim", "-c", str(lan_conf), "-f", str(CONFIG / "sim.emu"), "-s", str(state), "-n"],
        env={**os.environ, "CHASSIS_STATE": str(state)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1)
        yield port, state
    finally:  # a failed test leaves no ipmi_sim behind
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def ipmi_sim(tmp_path):
    with running_ipmi_sim(tmp_path) as sim:
        yield sim


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


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is installed by .ci/run")
@pytest.mark.django_db(transaction=True)
def test_the_panels_console_reaches_ipmi_sims_serial_port(tmp_path, asgi_panel, admin, customer):
    """ipmi_sim's SOL is a TCP serial device it connects to; socat plays the machine behind
    it, a serial port that echoes (cat)."""
    serial_port = free_tcp_port()
    machine = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{serial_port},bind=127.0.0.1,reuseaddr", "EXEC:cat"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        listening(serial_port)  # before ipmi_sim dials its serial device
        with running_ipmi_sim(tmp_path, sol=f"tcp:127.0.0.1:{serial_port}") as (port, _):
            server = make_server(
                actor=admin,
                owner=customer,
                bmc={
                    "address": "127.0.0.1",
                    "port": port,
                    "username": "admin",
                    "password": "password",
                },
            )
            with console_of(asgi_panel, customer, server) as viewer:
                viewer.wait_for("Connected to the serial console", timeout=20)
                typed_until_echoed(viewer, "hello ipmi_sim\r")
    finally:
        machine.terminate()
        machine.wait(timeout=10)


def listening(port: int) -> None:
    """Until something listens on 127.0.0.1:`port`, read from /proc: a test connection would
    be the one connection socat serves."""
    entry = f"0100007F:{port:04X}"
    wait_until(
        lambda: any(
            fields[1] == entry and fields[3] == "0A"  # TCP_LISTEN
            for fields in (
                line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            )
        ),
        timeout=10,
        interval=0.05,
    )


def typed_until_echoed(viewer, keys: str, attempts: int = 5) -> None:
    """ipmi_sim may take a moment to join its serial device after SOL is active: what is typed
    before that is lost, as on a real serial line, so type again."""
    for attempt in range(attempts):
        viewer.type(keys)
        try:
            viewer.wait_for(keys, timeout=3)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise
