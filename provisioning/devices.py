"""What the engine needs of a device an operation acts on, whatever its kind.

A device kind (a server's BMC today; its switch ports and PDU outlets next) is a
`Device`: it connects to one server's device through the driver chosen for it, and
records what its steps read and how they failed. Drivers raise `DeviceError`
subclasses, so the engine fails an operation the same way whichever device refused.
"""

from typing import Any, Protocol

from inventory.models import Server


class DeviceError(Exception):
    """The device refused, failed or did not answer; `message` says so to a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Connection(Protocol):
    """One operation's hold on its server's device."""

    driver: Any  # what the steps call: a BMC, switch or PDU driver

    def check(self) -> None:
        """Before a step that talks to the device: raise DeviceError at once if it is known
        to be down, rather than let the step wait out the driver's full timeout."""

    def observe(self, reading: str) -> str:
        """Record a state a step just read from the device (the sync then sees no drift)."""

    def failed(self, error: DeviceError) -> str:
        """Record that the device failed the operation's request; the message the operation
        fails with (the error's, and what staff can do next)."""


class Device(Protocol):
    name: str  # in messages: "the BMC"

    def call_window(self) -> float:
        """Seconds a step that only talks to the device may take."""

    def connect(self, server: Server) -> Connection: ...
