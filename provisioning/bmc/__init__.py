"""Talking to BMCs: a small interface, our own errors, and the pyghmi (IPMI) driver.

Credentials are decrypted only inside a driver call (`BmcTarget.for_bmc`), never logged.
"""

from dataclasses import dataclass, field

from inventory.models import Bmc

POWER_ACTIONS = ("on", "off", "soft_off", "reset", "cycle")
BOOT_DEVICES = ("pxe", "disk", "cdrom", "bios")


class BmcError(Exception):
    """The BMC answered, but refused or failed the request."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
