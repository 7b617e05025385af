"""The simulated server behind a BMC: power, boot device, an OS that obeys ACPI, and a
network boot that really talks to the panel (see netboot)."""

import functools
import socket
import threading
from collections import deque
from dataclasses import dataclass, field

from provisioning.simlab import netboot

INSTALL_OUTCOMES = ("succeed", "fail", "hang")
# IPMI's chassis power restore policies: what a machine does when its outlet powers up again.
POWER_RESTORE_POLICIES = ("always-off", "previous", "always-on")


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

    `mains` is the power its PDU outlet gives it. Without it the machine is off and its BMC
    is dead too (the lab drops its datagrams); when the outlet powers up again the BMC
    answers at once and the machine follows `power_restore_policy`: "previous" (the default,
    what hosting racks configure so that a PDU cycle revives a hung server) comes back on if
    it was on when the power went, "always-on" always does, "always-off" stays off.
    `power_watchers` are called (lock held) just before its power changes: the switch banks
    its port's traffic counters up to that moment. `screen_watchers` are called (perhaps
    with the lock held, so they must not block) with each piece of text its serial console
    shows: its BMC sends them over SOL.
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
    mains: bool = True
    power_restore_policy: str = "previous"
    on_when_mains_lost: bool = False
    power_watchers: list = field(default_factory=list, repr=False)
    netboots: int = 0
    os: str = ""
    hostname: str = ""
    login_prompt: bool = False  # something reads the console: the login prompt, or a shell
    shell: str = ""  # the prompt of a shell reading it (the rescue system's) instead of login
    screen_watchers: list = field(default_factory=list, repr=False)
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
        self._show(line + "\r\n")

    def _show(self, text: str) -> None:
        for watcher in self.screen_watchers:
            watcher(text)

    @property
    def prompt(self) -> str:
        return self.shell or f"{self.hostname or 'localhost'} login: "

    def wait_at_shell(self, prompt: str) -> None:
        """A shell reads the console from now on (the rescue system's): it echoes as the login
        prompt does, until the next boot."""
        self.shell = prompt
        self._show(prompt)
        self.login_prompt = True

    def screen(self) -> str:
        """The screen as a console that attaches now draws it: the last lines, the prompt."""
        lines = "".join(f"{line}\r\n" for line in self.console)
        return lines + (self.prompt if self.login_prompt else "")

    def type(self, keys: bytes) -> None:
        """Keys typed on its serial console: a booted system's login prompt echoes them
        (Enter asks again, backspace erases); before that, nothing reads them."""
        if not self.login_prompt:
            return
        for key in keys.decode("utf-8", "replace"):
            if key in "\r\n":
                self._show("\r\n" + self.prompt)
            elif key == "\x7f":
                self._show("\b \b")
            elif key.isprintable():
                self._show(key)

    def _boot(self) -> None:
        """Power-on self test done: boot as the BMC's boot device says. Lock held."""
        self.power_on_count += 1
        self.login_prompt, self.shell = False, ""
        self.say("Firmware: power-on self test passed")
        if self.boot_device != "pxe":
            self.say(f"Booting from the local disk: {self.os or 'no operating system'}")
            if self.os:
                self.say(f"{self.os} starting up")
                self.say("")
                self._show(self.prompt)
                self.login_prompt = True
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
            self.os = self.hostname = ""
            self.login_prompt = False
            self.console.clear()

    def installed(self, os_name: str, hostname: str) -> None:
        """The installer finished and rebooted the machine into its new system."""
        with self._lock:
            self.os, self.hostname = os_name, hostname
            if self.power == "on":
                self._boot()

    def _power(self, state: str) -> None:
        """Lock held."""
        if state != self.power:
            for watcher in self.power_watchers:
                watcher()
            self.power = state
            self.login_prompt = False

    def set_power(self, state: str) -> None:
        """Force the power state, booting nothing (the control API's hook)."""
        with self._lock:
            if state == "on" and not self.mains:
                raise ValueError("its PDU outlet is off")
            self._power(state)

    def power_on(self) -> None:
        with self._lock:
            if self.power == "off" and self.mains:
                self._power("on")
                self._boot()

    def power_off(self) -> None:
        with self._lock:
            self._power("off")

    def set_mains(self, on: bool) -> None:
        """Its PDU outlet switched: off cuts the machine and its BMC; on restores standby
        power and applies the power restore policy."""
        with self._lock:
            if on == self.mains:
                return
            if not on:
                self.on_when_mains_lost = self.power == "on"
                for watcher in self.power_watchers:
                    watcher()
                self.mains = False
                self.power = "off"
                self.login_prompt = False
                return
            for watcher in self.power_watchers:
                watcher()
            self.mains = True
            policy = self.power_restore_policy
            if policy == "always-on" or (policy == "previous" and self.on_when_mains_lost):
                self.power = "on"
                self._boot()

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
            "outlet": "on" if self.mains else "off",
            "power_restore_policy": self.power_restore_policy,
            "netboots": self.netboots,
            "os": self.os,
            "console": list(self.console),
            "screen": self.screen(),
        }
