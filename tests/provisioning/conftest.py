import pytest

from panel.models import SshKey
from provisioning.models import OsTemplate
from tests.factories import ED25519


@pytest.fixture(autouse=True)
def quick_bmc_timeouts(settings):
    """Unreachable BMCs fail in seconds here, not the production 20 s."""
    settings.PANEL_BMC_TIMEOUT = 3
    settings.PANEL_SOFT_SHUTDOWN_SECONDS = 3
    settings.PANEL_POWER_CONFIRM_SECONDS = 5


@pytest.fixture
def alma(db):
    return OsTemplate.objects.get(name="AlmaLinux 9")


@pytest.fixture
def key(customer):
    """A saved SSH key of the customer's, for installs."""
    return SshKey.objects.create(
        user=customer,
        name="laptop",
        public_key=ED25519,
        key_type="ssh-ed25519",
        fingerprint="SHA256:x",
    )
