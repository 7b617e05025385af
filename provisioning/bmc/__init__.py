"""Talking to BMCs: a small interface, our own errors, and the pyghmi (IPMI) driver.

Credentials are decrypted only inside a driver call (`BmcTarget.for_bmc`), never logged.
`drivers.driver_for(bmc)` picks the driver that speaks to a BMC.
"""

from dataclasses import dataclass, field
from typing import Protocol

from inventory.models import Bmc
from provisioning.devices import DeviceError

POWER_ACTIONS = ("on", "off", "soft_off", "reset", "cycle")
BOOT_DEVICES = ("pxe", "disk", "cdrom", "bios")


class BmcError(DeviceError):
    """The BMC answered, but refused or failed the request."""


class BmcUnreachable(BmcError):
    """No answer in time: the BMC is off the network, down, or the address is wrong."""


class BmcAuthFailed(BmcError):
    """The BMC refused the stored username or password."""


@dataclass(frozen=True)
class BmcTarget:
    address: str
    port: int
    username: str
    password: str = field(repr=False)
    cipher_suite: int | None = None

    @classmethod
    def for_bmc(cls, bmc: Bmc) -> "BmcTarget":
        return cls(
            address=bmc.address,
            port=bmc.port,
            username=bmc.username,
            password=bmc.reveal_password(),
            cipher_suite=bmc.cipher_suite,
        )

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


class BmcDriver(Protocol):
    """What every BMC driver offers (IPMI today; Redfish next)."""

    cipher_suite: int | None  # what the BMC agreed to, to be remembered for the next call

    def power_state(self) -> str: ...

    def power(self, action: str) -> None: ...

    def set_boot_device(self, device: str, persistent: bool = False) -> None: ...

    def boot_device(self) -> str: ...
