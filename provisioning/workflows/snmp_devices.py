"""Switches and PDUs as the devices of workflows: what their two kinds share.

A step's driver is a server's ports or outlets (switch_ports.ServerPorts,
pdu_outlets.ServerOutlets), which may sit on several devices; each request to one
device goes through `talk`, which records whether it answered and turns its SnmpError
into the DeviceError the engine fails an operation with.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.text import capfirst

from inventory.models import Server, SnmpDevice
from network import reachability
from network.snmp import SnmpAuthFailed, SnmpError, SnmpUnreachable
from provisioning.devices import DeviceError

# What an operation says of a device that failed: its customer reads the operation, so no
# address, port or credential hint; the device's own page keeps the full message for staff.
FAILURES = {
    SnmpUnreachable: "did not answer",
    SnmpAuthFailed: "refused the panel's SNMP credentials",
}


def talk(device: SnmpDevice, driver, method: str, *args):
    """Call `driver.method(*args)` on `device` (a Switch or Pdu), recording the outcome."""
    try:
        return reachability.ask(device, lambda: getattr(driver, method)(*args))
    except SnmpError as exc:
        what = FAILURES.get(type(exc), "refused the request")
        raise DeviceError(
            f"{capfirst(device._meta.verbose_name)} {device.name} {what}; staff see why on the "
            f"{device._meta.verbose_name}'s page."
        ) from exc


class SnmpConnection:
    def __init__(self, driver):
        self.driver = driver

    def check(self) -> None:
        """Nothing to probe first: an SNMP request is already bounded to a few seconds."""

    def observe(self, reading: str) -> str:
        return reading

    def failed(self, error: DeviceError) -> str:
        """Already recorded on the device that failed, by `talk`."""
        return error.message


@dataclass(frozen=True)
class SnmpDevices:
    name: str  # in messages: "the switch"
    driver: Callable[[Server], Any]

    def call_window(self) -> float:
        # a write and its read back on each device, each bounded by timeout and retries
        return 4 * settings.PANEL_SNMP_TIMEOUT * (settings.PANEL_SNMP_RETRIES + 1) + 10

    def connect(self, server: Server) -> SnmpConnection:
        return SnmpConnection(self.driver(server))
