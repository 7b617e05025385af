"""Cross-check with a client no one here wrote: ipmitool -I lanplus against simlab's BMCs."""

import shutil
import subprocess
import time

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ipmitool") is None, reason="ipmitool is installed by .ci/run"),
]


def ipmitool_command(port: int, *command: str, password: str = "password") -> list[str]:
    return [
        "ipmitool",
        "-I",
        "lanplus",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "admin",
        "-P",
        password,
        "-N",
        "1",
        "-R",
        "2",
        *command,
    ]


def ipmitool(port: int, *command: str, password: str = "password") -> subprocess.CompletedProcess:
    return subprocess.run(
        ipmitool_command(port, *command, password=password),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ipmitool_reads_and_changes_power(simlab):
    port = simlab.take_port()
    assert ipmitool(port, "power", "status").stdout.strip() == "Chassis Power is off"
    assert ipmitool(port, "power", "on").returncode == 0
    assert simlab.machine(port)["power"] == "on"
    assert ipmitool(port, "power", "status").stdout.strip() == "Chassis Power is on"
    assert ipmitool(port, "power", "off").returncode == 0
    assert simlab.machine(port)["power"] == "off"


def test_ipmitool_sets_the_boot_device(simlab):
    port = simlab.take_port()
    assert ipmitool(port, "chassis", "bootdev", "pxe").returncode == 0
    assert simlab.machine(port)["boot_device"] == "pxe"
    assert "Force PXE" in ipmitool(port, "chassis", "bootparam", "get", "5").stdout


def test_ipmitool_with_a_wrong_password_is_refused(simlab):
    result = ipmitool(simlab.take_port(), "power", "status", password="wrong")
    assert result.returncode != 0
    assert "Chassis Power" not in result.stdout


def test_ipmitool_reads_a_simlab_console_and_types_into_it(simlab):
    """`sol activate` shows the machine's screen and its login prompt echoes what is typed;
    `~.` ends the session (it deactivates SOL), so the console opens again."""
    port = simlab.take_port()
    simlab.change(port, os="Debian 12", hostname="web-01")
    assert ipmitool(port, "power", "on").returncode == 0
    for _ in range(2):
        session = subprocess.Popen(
            ipmitool_command(port, "sol", "activate"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for keys in (b"root", b"\r", b"~."):
            time.sleep(1)
            session.stdin.write(keys)
            session.stdin.flush()
        screen = session.communicate(timeout=15)[0].decode()
        assert "Booting from the local disk: Debian 12\r\nDebian 12 starting up" in screen
        assert "web-01 login: root\r\nweb-01 login: " in screen
