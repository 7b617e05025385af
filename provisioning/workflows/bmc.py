"""The server's BMC as the device of a workflow: the driver chosen for it, a short probe
before talking to one already marked unreachable, and its readings and failures kept
where the power sync keeps them."""

from django.conf import settings

from inventory.models import Server
from provisioning import powersync
from provisioning.bmc import BmcUnreachable
from provisioning.bmc.drivers import driver_for
from provisioning.devices import DeviceError


class BmcConnection:
    def __init__(self, server: Server):
        self.bmc = server.bmc
        self.driver = driver_for(self.bmc)

    def check(self) -> None:
        if self.bmc.reachable is False:
            self.observe(powersync.probe(self.bmc))

    def observe(self, reading: str) -> str:
        powersync.record_power_state(self.bmc, reading, cipher_suite=self.driver.cipher_suite)
        return reading

    def failed(self, error: DeviceError) -> str:
        """A BMC that stopped answering leaves the hard power: say so where there is one."""
        powersync.record_failure(self.bmc, error.message)
        if isinstance(error, BmcUnreachable) and self.bmc.server.pdu_outlets.exists():
            return (
                f"{error.message} Staff can cut and restore its power through its PDU outlets "
                "(PDU power cycle)."
            )
        return error.message


class ServerBmc:
    name = "the BMC"

    def call_window(self) -> float:
        return settings.PANEL_BMC_TIMEOUT * 2

    def connect(self, server: Server) -> BmcConnection:
        return BmcConnection(server)


BMC = ServerBmc()
