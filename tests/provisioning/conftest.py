import pytest

from tests.factories import make_server
from tests.simlab import Simlab


@pytest.fixture(scope="session")
def simlab():
    lab = Simlab(servers=32)
    yield lab
    lab.stop()


@pytest.fixture
def lab_server(simlab, admin, customer):
    """A server owned by `customer` whose BMC is a fresh simlab BMC."""
    port = simlab.take_port()
    server = make_server(
        actor=admin,
        owner=customer,
        bmc={"address": "127.0.0.1", "port": port, "username": "admin", "password": "password"},
    )
    server.lab_port = port
    return server


@pytest.fixture(autouse=True)
def quick_bmc_timeouts(settings):
    """Unreachable BMCs fail in seconds here, not the production 20 s."""
    settings.PANEL_BMC_TIMEOUT = 3
    settings.PANEL_SOFT_SHUTDOWN_SECONDS = 3
    settings.PANEL_POWER_CONFIRM_SECONDS = 5
