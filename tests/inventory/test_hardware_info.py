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


# As the agent image reports them: every disk and NIC with its details.
AGENT_FACTS = {
    "cpu": "AMD EPYC 7302P",
    "cpus": 32,
    "ram_mb": 128000,
    "disks": [
        {
            "name": "nvme0n1",
            "size_bytes": 960197124096,
            "rotational": False,
            "model": "PM983",
            "serial": "S4GNNA0R1",
        },
        {
            "name": "sda",
            "size_bytes": 4000787030016,
            "rotational": True,
            "model": "HUS726T4",
            "serial": "V6GX1",
        },
    ],
    "nics": [{"name": "eth0", "mac": "0c:c4:7a:00:00:01", "link": "up"}],
}


@pytest.fixture
def agent_diagnosed(admin, customer):
    from tests.factories import make_profile

    profile = make_profile(cpu_cores=16, ram_gb=128, disk_count=2, disk_size_gb=960)
    return make_server(actor=admin, owner=customer, profile=profile, facts=AGENT_FACTS)


def test_a_mismatch_with_the_configuration_is_flagged_everywhere(
    client, admin, customer, owner_api, agent_diagnosed, diagnosed
):
    expected = ["disk sda has 4000.8 GB for 960 GB"]
    assert (
        owner_api.get(f"/api/v1/servers/{agent_diagnosed.pk}/").json()["hardware_mismatch"]
        == expected
    )
    # The old facts' disks (names only) say nothing about sizes; 12 threads for 6 cores match.
    assert owner_api.get(f"/api/v1/servers/{diagnosed.pk}/").json()["hardware_mismatch"] == [
        "65536 MB of memory for 32 GB"
    ]
    browser = Client()
    browser.force_login(customer)
    page = text(browser.get(f"/servers/{agent_diagnosed.pk}/"))
    assert "Differs from its configuration: disk sda has 4000.8 GB for 960 GB" in page
    assert "Disks nvme0n1 960.2 GB SSD PM983 S4GNNA0R1, sda 4000.8 GB HDD HUS726T4 V6GX1" in page
    assert "Network interfaces eth0 0c:c4:7a:00:00:01 link up" in page
    client.force_login(admin)
    page = text(client.get(f"/admin/inventory/server/{agent_diagnosed.pk}/change/"))
    assert "Differs from its configuration: disk sda has 4000.8 GB for 960 GB" in page
