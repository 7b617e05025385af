"""The simulated server behind a BMC: power, boot device, an OS that obeys ACPI, and a
network boot that really talks to the panel (see netboot)."""

import functools
import socket
import threading
from collections import deque
from dataclasses import dataclass, field

from provisioning.simlab import netboot

INSTALL_OUTCOMES = ("succeed", "fail", "hang")


def simlab_mac(port: int) -> str:
    """The PXE MAC of the machine behind the BMC on `port` (enrolment and the demo use it)."""
    return f"52:54:00:{port >> 16 & 0xFF:02x}:{port >> 8 & 0xFF:02x}:{port & 0xFF:02x}"


@functools.cache
def _loopback_aliases() -> bool:
    """Linux answers all of 127.0.0.0/8 on loopback; other systems only 127.0.0.1."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.1.0.1", 0))
        except OSError:
            return False
    return True


def simlab_address(port: int) -> str:
    """The address the machine behind the BMC on `port` boots from: its own in 127.1.0.0/16
    where the system allows it, so the panel tells machines apart (and binds tickets)."""
    return f"127.1.{port >> 8 & 0xFF}.{port & 0xFF}" if _loopback_aliases() else "127.0.0.1"


@dataclass
class SimMachine:
    """State a BMC reads and changes. `acpi_responsive` False models a hung OS.

    `boot_url` is the panel as the boot network's DHCP would announce it: without one the
    machine finds no PXE server and boots its disk. `install_outcome` says how its next
    installer ends: "succeed", "fail" (reports a failure) or "hang" (goes silent).
    """

    port: int
    power: str = "off"
    boot_device: str = "default"
    boot_persistent: bool = False
    acpi_responsive: bool = True
    shutdown_seconds: float = 1.0
    power_on_count: int = 0
    boot_url: str = ""
    install_seconds: float = 3.0
    install_outcome: str = "succeed"
    netboots: int = 0
    os: str = ""
    console: deque = field(default_factory=lambda: deque(maxlen=20), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def mac(self) -> str:
        return simlab_mac(self.port)

    @property
    def address(self) -> str:
        return simlab_address(self.port)

    def say(self, line: str) -> None:
        """What its screen shows (the control API returns the last lines)."""
        self.console.append(line)

    def _boot(self) -> None:
        """Power-on self test done: boot as the BMC's boot device says. Lock held."""
        self.power_on_count += 1
        if self.boot_device != "pxe":
            self.say(f"Booting from the local disk: {self.os or 'no operating system'}")
            return
        if not self.boot_persistent:
            self.boot_device = "default"  # a one-time override is used up by this boot
        self.netboots += 1
        if not self.boot_url:
            self.say("PXE: no DHCP offer on the boot network; booting from the local disk")
            return
        threading.Thread(target=netboot.run, args=(self,), daemon=True).start()

    def forget_history(self) -> None:
        """As if newly racked: no boots counted, nothing on screen, an empty disk."""
        with self._lock:
            self.power_on_count = self.netboots = 0
            self.os = ""
            self.console.clear()

    def installed(self, os_name: str) -> None:
        """The installer finished and rebooted the machine into its new system."""
        with self._lock:
            self.os = os_name
            if self.power == "on":
                self._boot()

    def power_on(self) -> None:
        with self._lock:
            if self.power == "off":
                self.power = "on"
                self._boot()

    def power_off(self) -> None:
        with self._lock:
            self.power = "off"

    def reset(self) -> None:
        """A hard reset reboots a running machine; it does nothing to one that is off."""
        with self._lock:
            if self.power == "on":
                self._boot()

    def cycle(self) -> bool:
        """Power-cycle a running machine; False when it is off (as many BMCs refuse it then)."""
        with self._lock:
            if self.power == "off":
                return False
            self._boot()
            return True

    def request_shutdown(self) -> None:
        """ACPI power button: a healthy OS shuts down after a moment, a hung one ignores it."""
        if self.power == "on" and self.acpi_responsive:
            timer = threading.Timer(self.shutdown_seconds, self.power_off)
            timer.daemon = True
            timer.start()

    def set_boot_device(self, device: str, persistent: bool = False) -> None:
        with self._lock:
            self.boot_device, self.boot_persistent = device, persistent

    def as_dict(self) -> dict:
        return {
            "port": self.port,
            "mac": self.mac,
            "address": self.address,
            "power": self.power,
            "boot_device": self.boot_device,
            "boot_persistent": self.boot_persistent,
            "acpi_responsive": self.acpi_responsive,
            "power_on_count": self.power_on_count,
            "boot_url": self.boot_url,
            "install_seconds": self.install_seconds,
            "install_outcome": self.install_outcome,
            "netboots": self.netboots,
            "os": self.os,
            "console": list(self.console),
        }
