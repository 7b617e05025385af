import dataclasses

import pytest
from rest_framework.test import APIClient

from panel import services as people
from provisioning.simlab.enrolment import cable_lab
from provisioning.simlab.machine import simlab_mac
from tests.e2e.browser import chromium, page, worker  # noqa: F401 - the browser tests' fixtures
from tests.e2e.consoles import asgi_panel  # noqa: F401 - the console tests' daphne
from tests.factories import make_server, make_user, restore_shipped_os_templates
from tests.migrations import migrator  # noqa: F401 - a fixture for the migration tests
from tests.simlab import Simlab
from tests.smtp import SmtpServer


def token_client(user, **token_options) -> APIClient:
    """An API client that authenticates like a billing system: with a real token."""
    _, key = people.create_api_token(actor=None, user=user, **token_options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    return client


@pytest.fixture
def admin(db):
    return make_user("admin", email="staff@example.test", full_name="Staff Member")


@pytest.fixture
def customer(db):
    return make_user("customer", email="owner@example.test", full_name="Owner Customer")


@pytest.fixture
def other_customer(db):
    return make_user("customer", email="other@example.test", full_name="Other Customer")


@pytest.fixture
def admin_api(admin):
    return token_client(admin)


@pytest.fixture
def owner_api(customer):
    return token_client(customer)


@pytest.fixture
def other_api(other_customer):
    return token_client(other_customer)


@pytest.fixture
def anonymous_api(db):
    return APIClient()


@pytest.fixture
def owned_server(admin, customer):
    return make_server(actor=admin, owner=customer)


@pytest.fixture
def free_server(admin):
    return make_server(actor=admin)


@pytest.fixture
def shipped_os_templates(db):
    """The OS templates a new panel ships with, also in transactional tests (which flush)."""
    restore_shipped_os_templates()


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
        mac=simlab_mac(port),
        bmc={"address": "127.0.0.1", "port": port, "username": "admin", "password": "password"},
    )
    server.lab_port = port
    return server


@pytest.fixture
def cabled_server(simlab, lab_server):
    """lab_server with its data port, its BMC's port and its outlet on simlab's switch and PDU
    recorded, as staff would (`.cable` says where); the switch answers again afterwards."""
    cable = dataclasses.replace(
        simlab.wiring[lab_server.lab_port],
        switch_port=simlab.switch_port,
        pdu_port=simlab.pdu_port,
    )
    cable_lab([cable], community="private")
    lab_server.cable = cable
    yield lab_server
    simlab.change_switch(silent=False)


@pytest.fixture
def staff(client, admin):
    """A browser logged in as hosting staff."""
    client.force_login(admin)
    return client


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that this process's Django sends to; pass
    `smtp_server.settings` to a worker process so it does too."""
    server = SmtpServer()
    for name, value in server.settings.items():
        setattr(settings, name, value)
    yield server
    server.stop()
