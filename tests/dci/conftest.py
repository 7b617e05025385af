import json

import pytest
from django.test import Client

from inventory import ipam
from inventory import services as inventory
from inventory.models import Location
from tests.factories import make_pdu, make_pool, make_rack, make_server, make_switch


class DciClient:
    """Calls the DCImanager-compatible API as ISPsystem's examples do: the session in the
    `ses6` cookie (and `x-xsrf-token` on changes), `isp-box-instance: true`, and bodies
    posted with curl's `-d`, which declares them a form though they are JSON."""

    CURL_FORM = "application/x-www-form-urlencoded"

    def __init__(self, user, key: str):
        self.user = user
        self.client = Client()
        self.client.cookies["ses6"] = key
        self.key = key

    def call(self, method: str, path: str, body: dict | None = None, **headers):
        extra = {"HTTP_ISP_BOX_INSTANCE": "true", **headers}
        if method != "GET":
            extra["HTTP_X_XSRF_TOKEN"] = self.key
        data = json.dumps(body) if body is not None else ""
        return self.client.generic(method, path, data, content_type=self.CURL_FORM, **extra)

    def get(self, path: str, **headers):
        return self.call("GET", path, **headers)

    def post(self, path: str, body: dict | None = None, **headers):
        return self.call("POST", path, {} if body is None else body, **headers)

    def delete(self, path: str, **headers):
        return self.call("DELETE", path, **headers)


def dci_login(user, password: str = "a-long-test-password") -> DciClient:
    """A DCImanager session for `user`, opened the way a billing module opens one."""
    answer = Client().post(
        "/api/auth/v4/public/token",
        json.dumps({"email": user.email, "password": password}),
        content_type=DciClient.CURL_FORM,
    )
    assert answer.status_code == 201, answer.content
    return DciClient(user, answer.json()["token"])


@pytest.fixture
def staff_dci(admin):
    return dci_login(admin)


@pytest.fixture
def owner_dci(customer):
    return dci_login(customer)


@pytest.fixture
def other_dci(other_customer):
    return dci_login(other_customer)


@pytest.fixture
def racked_server(admin, customer):
    """An owned server with everything DCImanager's server object shows: a rack in a
    location, addresses (IPv4 main), a data and a BMC switch port, a PDU outlet."""
    location = Location.objects.create(name="FRA1", address="Hanauer Landstrasse 302")
    rack = make_rack(location=location, name="A01", size_u=42)
    server = make_server(actor=admin, owner=customer, rack=rack, unit=7, name="web-1")
    pool = make_pool(gateway="192.0.2.1", location=location)
    ipam.allocate_ip(actor=admin, server=server, pool=pool)
    switch, pdu = make_switch(location=location), make_pdu(location=location)
    for if_index, name, is_ipmi in ((7, "Gi1/0/7", False), (48, "Gi1/0/48", True)):
        port = inventory.switch_port_named(actor=admin, switch=switch, name=name)
        inventory.connect_switch_port(
            actor=admin, port=port, server=server, is_ipmi_connection=is_ipmi
        )
        switch.ports.filter(pk=port.pk).update(if_index=if_index)  # as discovery finds it
    outlet = inventory.pdu_outlet_numbered(actor=admin, pdu=pdu, number=7)
    inventory.connect_pdu_outlet(actor=admin, outlet=outlet, server=server)
    # What the state sync read from the devices.
    switch.ports.update(admin_status="up", oper_status="up")
    pdu.outlets.update(power_state="on")
    return server
