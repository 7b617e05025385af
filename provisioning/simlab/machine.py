"""The simulated server behind a BMC: power, boot device and an OS that obeys ACPI."""

import threading
from dataclasses import dataclass, field


@dataclass
class SimMachine:
    """State a BMC reads and changes. `acpi_responsive` False models a hung OS."""

    port: int
    power: str = "off"
    boot_device: str = "default"
    boot_persistent: bool = False
    acpi_responsive: bool = True
    shutdown_seconds: float = 1.0
    power_on_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def power_on(self) -> None:
        with self._lock:
            if self.power == "off":
                self.power = "on"
                self.power_on_count += 1

    def power_off(self) -> None:
        with self._lock:
            self.power = "off"

    def reset(self) -> None:
        """A hard reset reboots a running machine; it does nothing to one that is off."""
        with self._lock:
            if self.power == "on":
                self.power_on_count += 1

    def cycle(self) -> bool:
        """Power-cycle a running machine; False when it is off (as many BMCs refuse it then)."""
        with self._lock:
            if self.power == "off":
                return False
            self.power_on_count += 1
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
            "power": self.power,
            "boot_device": self.boot_device,
            "boot_persistent": self.boot_persistent,
            "acpi_responsive": self.acpi_responsive,
            "power_on_count": self.power_on_count,
        }
