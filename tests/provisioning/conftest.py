import pytest


@pytest.fixture(autouse=True)
def quick_bmc_timeouts(settings):
    """Unreachable BMCs fail in seconds here, not the production 20 s."""
    settings.PANEL_BMC_TIMEOUT = 3
    settings.PANEL_SOFT_SHUTDOWN_SECONDS = 3
    settings.PANEL_POWER_CONFIRM_SECONDS = 5
