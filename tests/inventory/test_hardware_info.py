"""What diagnostics found in a server (its stored facts), shown by the API, the portal and
the admin."""

import html
import re

import pytest
from django.test import Client

from tests.factories import make_server

# As the utility image reports them (its `disks` ends with the space `tr` leaves).
FACTS = {"cpu": "Intel Xeon E-2236", "cpus": 12, "ram_mb": 65536, "disks": "sda sdb "}


@pytest.fixture
def diagnosed(admin, customer):
    return make_server(actor=admin, owner=customer, facts=FACTS)


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_the_server_object_carries_its_hardware_info(
    anonymous_api, other_api, owner_api, admin_api, diagnosed, free_server
):
    url = f"/api/v1/servers/{diagnosed.pk}/"
    assert anonymous_api.get(url).status_code == 401
    assert other_api.get(url).status_code == 404
    assert owner_api.get(url).json()["hardware_info"] == FACTS
    assert admin_api.get(url).json()["hardware_info"] == FACTS
    listed = {s["id"]: s for s in admin_api.get("/api/v1/servers/").json()["results"]}
    assert listed[diagnosed.pk]["hardware_info"] == FACTS
    assert listed[free_server.pk]["hardware_info"] is None  # no diagnostics yet


def test_the_portal_server_page_shows_the_hardware_readably(customer, diagnosed):
    browser = Client()
    browser.force_login(customer)
    page = text(browser.get(f"/servers/{diagnosed.pk}/"))
    assert "Found by diagnostics" in page
    for shown in (
        "CPU model Intel Xeon E-2236",
        "CPU threads 12",
        "Memory 64 GB",
        "Disks sda, sdb",
    ):
        assert shown in page, shown
    assert "ram_mb" not in page


def test_the_admin_server_page_shows_the_hardware_readably(client, admin, diagnosed):
    client.force_login(admin)
    page = text(client.get(f"/admin/inventory/server/{diagnosed.pk}/change/"))
    for shown in ("CPU model: Intel Xeon E-2236", "Memory: 64 GB", "Disks: sda, sdb"):
        assert shown in page, shown
    assert "ram_mb" not in page
