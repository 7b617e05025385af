"""The installer's reports are read with the API's bounded JSON loader: no ticket, login or
source address makes a hostile body more than a 400."""

import pytest

from inventory.models import Server
from provisioning.models import Operation
from provisioning.tasks import run_operation
from tests.provisioning.test_install import secret_in, start

JSON = "application/json"


@pytest.fixture
def events_url(owner_api, client, lab_server):
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/diagnostics/", {"wipe": "none"}, format="json"
    )
    run_operation(response.json()["task"])
    assert Operation.objects.get(pk=response.json()["task"]).step == "wait_pxe"
    script = client.get("/boot/ipxe", {"mac": lab_server.mac}).content.decode()
    return f"/boot/events/{secret_in(script)}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 100_000, "nested deeper than"),
        ('{"event": "log", "message": "\\ud800"}', "not valid Unicode"),
        ('{"event": "facts", "facts": {"disk": "sda\\u0000"}}', "NUL"),
        ('{"event": ', "not valid JSON"),
    ],
)
def test_hostile_installer_reports_are_a_clear_400(client, events_url, body, message):
    response = client.post(events_url, body, content_type=JSON)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_an_oversized_installer_report_is_a_400(client, events_url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(events_url, {"event": "log", "message": "x" * 2000}, content_type=JSON)
    assert response.status_code == 400
    assert "larger than 1000 bytes" in response.json()["detail"]


def test_nested_facts_are_still_read(client, events_url):
    facts = {"disks": [{"name": "sda", "smart": {"health": "PASSED"}}]}
    response = client.post(events_url, {"event": "facts", "facts": facts}, content_type=JSON)
    assert response.status_code == 202


def test_deeply_nested_facts_in_a_form_post_are_a_400(client, events_url):
    response = client.post(events_url, {"event": "facts", "facts": "[" * 20000})
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["errors"]["facts"][0]


def test_an_os_installer_cannot_write_the_servers_hardware_info(
    client, owner_api, lab_server, alma, key
):
    """hardware_info is what the panel's utility image measured; a machine installing an OS
    (whose config anyone with its ticket could replay) does not get to rewrite it."""
    start(owner_api, lab_server, alma, key)
    script = client.get("/boot/ipxe", {"mac": lab_server.mac}).content.decode()
    secret = secret_in(script)
    facts = {"cpu": "fake", "ram_mb": 1}
    refused = client.post(
        f"/boot/events/{secret}", {"event": "facts", "facts": facts}, content_type=JSON
    )
    assert refused.status_code == 400
    assert Server.objects.get(pk=lab_server.pk).facts == {}
