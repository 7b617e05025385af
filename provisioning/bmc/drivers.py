"""Which driver speaks to a BMC: IPMI for every BMC today; Redfish adds a driver module
and its choice here, and nothing that calls `driver_for` changes."""

from inventory.models import Bmc
from provisioning.bmc import BmcDriver, BmcTarget
from provisioning.bmc.ipmi import IpmiDriver


def driver_for(bmc: Bmc, *, timeout: float | None = None) -> BmcDriver:
    return IpmiDriver(BmcTarget.for_bmc(bmc), timeout=timeout)
