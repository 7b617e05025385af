"""The pyghmi driver against simlab's BMCs, over real UDP."""

import os
import time

import pytest

from provisioning.bmc import BmcAuthFailed, BmcError, BmcTarget, BmcUnreachable
from provisioning.bmc.ipmi import IpmiDriver
from tests.simlab import free_udp_ports


def driver(port: int, password: str = "password", username: str = "admin", **options) -> IpmiDriver:
    return IpmiDriver(BmcTarget("127.0.0.1", port, username, password, **options), timeout=3)


def test_reads_and_changes_power_and_boot_device(simlab):
    port = simlab.take_port()
    bmc = driver(port)
    assert bmc.power_state() == "off"
    bmc.power("on")
    assert simlab.machine(port)["power"] == "on"
    assert bmc.power_state() == "on"
    bmc.set_boot_device("pxe")
    assert bmc.boot_device() == "pxe"
    assert simlab.machine(port)["boot_device"] == "pxe"
    bmc.power("cycle")
    bmc.power("reset")
    # at least: pyghmi retransmits a request whose answer is late, and pyghmi's BMC server
    # (unlike a real BMC) does not recognise the retransmission, so a loaded machine may
    # see a reset twice
    assert simlab.machine(port)["power_on_count"] >= 3
    bmc.power("soft_off")
    simlab.wait_for(port, power="off")
    bmc.power("off")
    assert bmc.power_state() == "off"


def test_falls_back_to_suite_3_and_remembers_it(simlab):
    probed, hinted = simlab.take_port(), simlab.take_port()

    def refusals(port):
        return simlab.machine(port)["refused_suite_proposals"]

    before = refusals(probed), refusals(hinted)
    first = driver(probed)
    first.power_state()
    assert first.cipher_suite == 3
    assert refusals(probed) > before[0]
    known = driver(hinted, cipher_suite=3)
    known.power_state()
    assert refusals(hinted) == before[1]


def test_wrong_password_is_an_auth_error_a_person_can_act_on(simlab):
    with pytest.raises(BmcAuthFailed) as error:
        driver(simlab.take_port(), password="not-the-password").power_state()
    assert "refused the username or password" in error.value.message
    assert "not-the-password" not in error.value.message


def test_unknown_user_is_an_auth_error(simlab):
    with pytest.raises(BmcAuthFailed):
        driver(simlab.take_port(), username="nobody").power_state()


def test_a_bmc_that_is_not_listening_fails_within_the_timeout():
    port = free_udp_ports(1, start=40000)
    began = time.monotonic()
    with pytest.raises(BmcUnreachable) as error:
        driver(port).power_state()
    assert time.monotonic() - began < 10
    assert f"127.0.0.1:{port}" in error.value.message


def test_a_bmc_that_stops_answering_is_unreachable(simlab):
    port = simlab.take_port()
    bmc = driver(port)
    assert bmc.power_state() == "off"
    simlab.change(port, silent=True)
    began = time.monotonic()
    with pytest.raises(BmcUnreachable):
        bmc.power("on")
    assert time.monotonic() - began < 10
    simlab.change(port, silent=False)


def test_an_unresolvable_address_is_unreachable():
    with pytest.raises(BmcUnreachable, match="Cannot reach"):
        IpmiDriver(BmcTarget("bmc.invalid", 623, "a", "b"), timeout=3).power_state()


def test_completion_codes_become_bmc_errors(simlab):
    with pytest.raises(BmcError) as error:
        driver(simlab.take_port()).power("cycle")  # refused by the BMC while the server is off
    assert "not possible in the present state (IPMI completion code 0xd5)" in error.value.message


@pytest.mark.parametrize("lost", [[1], [2], [3], [4], [5], [6], [7], [1, 2]])
def test_lost_datagrams_are_sent_again(simlab, lost):
    """Each position loses a different step: channel capabilities, the suite-17 probe, the
    suite-3 open session, RAKP 1 and 3, the privilege level, the command itself."""
    port = simlab.take_port()
    simlab.change(port, lose_datagrams=lost)
    assert driver(port).power_state() == "off"
    assert simlab.machine(port)["datagrams_lost"] >= len(lost)


def test_a_bmc_that_goes_silent_mid_session_is_unreachable_not_a_bmc_error(simlab):
    """pyghmi reports a command that ran out of retries as code 0xffff; that is silence."""
    port = simlab.take_port()
    simlab.change(port, lose_datagrams=list(range(7, 200)))
    with pytest.raises(BmcUnreachable, match="No answer"):
        IpmiDriver(BmcTarget("127.0.0.1", port, "admin", "password"), timeout=30).power_state()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_failed_calls_leave_no_open_sockets(simlab):
    """pyghmi keeps failed sessions in class-level tables; their sockets must still close,
    or after ~1,000 failures select() breaks and every BMC looks unreachable."""
    refused, silent = simlab.take_port(), simlab.take_port()
    simlab.change(silent, silent=True)
    before = open_descriptors()
    for _ in range(30):
        with pytest.raises(BmcAuthFailed):
            driver(refused, password="wrong").power_state()
    for _ in range(3):
        with pytest.raises(BmcUnreachable):
            IpmiDriver(BmcTarget("127.0.0.1", silent, "admin", "password"), timeout=1).power_state()
    deadline = time.monotonic() + 15  # abandoned calls end when pyghmi's retries run out
    while open_descriptors() > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert open_descriptors() <= before
