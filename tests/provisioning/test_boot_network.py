"""The boot network is a trust boundary: the boot endpoints answer only the boot networks,
and an install's ticket is bound to one source address. Real HTTP requests through Django's
test client, each from the address a machine (or an attacker) would send it from."""

import re

import pytest
from django.test import Client

from inventory import ipam
from panel.models import AuditEvent
from provisioning import boot
from provisioning import urls as boot_urls
from provisioning.models import BootTicket, Operation
from provisioning.tasks import run_operation
from tests.factories import make_pool, make_server
from tests.provisioning.test_install import secret_in, start

MACHINE, ATTACKER, OUTSIDE = "10.20.0.5", "10.20.0.66", "203.0.113.9"


@pytest.fixture
def boot_network(admin):
    """A provisioning network flagged as a boot network in IPAM."""
    pool = make_pool(cidr="10.20.0.0/24", first="10.20.0.5", last="10.20.0.9", boot=True)
    return pool.network


@pytest.fixture
def no_loopback(settings):
    """The production default: no boot CIDRs beyond IPAM's boot networks."""
    settings.PANEL_BOOT_ALLOWED_CIDRS = []


def at(address: str, **headers) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def refusals(**detail) -> list[AuditEvent]:
    lookup = {f"detail__{name}": value for name, value in detail.items()}
    return list(AuditEvent.objects.filter(action="boot.refused", **lookup))


def boot_script(client: Client, server) -> str:
    response = client.get("/boot/ipxe", {"mac": server.mac})
    assert response.status_code == 200, response.content
    return response.content.decode()


def assert_refused(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.usefixtures("no_loopback")
def test_boot_endpoints_refuse_addresses_outside_the_boot_networks(
    client, lab_server, boot_network
):
    outsider = at(OUTSIDE)
    assert_refused(outsider.get("/boot/ipxe", {"mac": lab_server.mac}))
    assert_refused(outsider.get("/boot/config/some-secret"))
    assert_refused(outsider.get("/boot/config/some-secret/meta-data"))
    assert_refused(outsider.post("/boot/events/some-secret", {"event": "done"}))
    # Loopback is not a boot network unless PANEL_BOOT_ALLOWED_CIDRS says so.
    assert_refused(client.get("/boot/ipxe", {"mac": lab_server.mac}))
    refused = refusals(reason="outside the boot networks")
    assert {(e.source_ip, e.detail["endpoint"]) for e in refused} == {
        (OUTSIDE, "ipxe"),
        (OUTSIDE, "config"),
        (OUTSIDE, "meta-data"),
        (OUTSIDE, "events"),
        ("127.0.0.1", "ipxe"),
    }
    assert not any("some-secret" in str(e.detail) for e in refused)
    # A machine on the boot network is answered.
    assert boot_script(at(MACHINE), lab_server).startswith("#!ipxe")


@pytest.mark.usefixtures("no_loopback")
def test_allowed_cidrs_admit_relays_and_the_proxy_chain_is_honoured(settings, lab_server):
    settings.PANEL_BOOT_ALLOWED_CIDRS = ["198.51.100.0/28"]
    assert boot_script(at("198.51.100.7"), lab_server).startswith("#!ipxe")
    assert_refused(at("198.51.100.17").get("/boot/ipxe", {"mac": lab_server.mac}))
    # Behind one trusted proxy the client is the last X-Forwarded-For hop, not the proxy...
    settings.PANEL_TRUSTED_PROXY_COUNT = 1
    settings.PANEL_TRUSTED_PROXY_CIDRS = ["192.0.2.1/32"]
    proxied = at("192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert boot_script(proxied, lab_server).startswith("#!ipxe")
    # ...and a hop the client wrote itself in front of it is not believed.
    spoofed = at("192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9")
    assert_refused(spoofed.get("/boot/ipxe", {"mac": lab_server.mac}))


@pytest.mark.usefixtures("no_loopback")
def test_a_ticket_is_bound_to_the_address_of_the_first_boot_script_fetch(
    owner_api, lab_server, boot_network, alma, key
):
    op = start(owner_api, lab_server, alma, key, password="Correct-Horse-9")
    machine, attacker = at(MACHINE), at(ATTACKER)
    secret = secret_in(boot_script(machine, lab_server))

    # Another address on the boot network asks for the same MAC: it is sent to its disk,
    # and the real machine's secret keeps working.
    stolen = boot_script(attacker, lab_server)
    assert "kernel" not in stolen and "/boot/config/" not in stolen
    assert stolen == boot_script(attacker, make_server())  # as if nothing were installing
    # Even with the secret (plain HTTP can be sniffed), nothing answers the attacker.
    for path in (f"/boot/config/{secret}", f"/boot/config/{secret}/user-data"):
        assert_refused(attacker.get(path))
    assert_refused(attacker.get(f"/boot/config/{secret}/meta-data"))
    for event in ("done", "failed"):
        assert_refused(attacker.post(f"/boot/events/{secret}", {"event": event}))
    ticket = BootTicket.objects.get(operation=op)
    assert (ticket.state, ticket.source_address) == ("booted", MACHINE)
    endpoints = {e.detail["endpoint"] for e in refusals(reason="bound to another address")}
    assert endpoints == {"ipxe", "config", "user-data", "meta-data", "events"}
    assert all(e.source_ip == ATTACKER for e in refusals())
    assert not any(secret in str(e.detail) for e in AuditEvent.objects.all())

    config = machine.get(f"/boot/config/{secret}")
    assert config.status_code == 200 and "rootpw --iscrypted '$6$" in config.content.decode()
    assert machine.post(f"/boot/events/{secret}", {"event": "done"}).status_code == 202
    run_operation(op.pk)
    assert Operation.objects.get(pk=op.pk).state == "succeeded"


@pytest.mark.usefixtures("no_loopback")
def test_a_ticket_is_bound_to_the_servers_reserved_address_on_a_boot_network(
    admin, owner_api, lab_server, boot_network, alma, key
):
    ipam.allocate_ip(actor=admin, server=lab_server, network=boot_network, address="10.20.0.7")
    start(owner_api, lab_server, alma, key)
    # Asking first does not win the install: IPAM says where the machine is.
    assert "kernel" not in boot_script(at(ATTACKER), lab_server)
    assert BootTicket.objects.get(server=lab_server).state == "issued"
    script = boot_script(at("10.20.0.7"), lab_server)
    assert "kernel" in script
    assert at("10.20.0.7").get(f"/boot/config/{secret_in(script)}").status_code == 200
    assert refusals(reason="bound to another address")[0].detail == {
        "endpoint": "ipxe",
        "reason": "bound to another address",
        "mac": lab_server.mac,
        "bound_to": "10.20.0.7",
    }


@pytest.mark.usefixtures("no_loopback")
def test_asking_before_the_panel_reboots_the_machine_binds_nobody(
    owner_api, lab_server, boot_network, alma, key
):
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/install/",
        {"os_template": alma.pk, "ssh_keys": [key.pk]},
        format="json",
    )
    # Queued, its boot device not yet set: an early asker gets the disk and claims nothing.
    assert "kernel" not in boot_script(at(ATTACKER), lab_server)
    assert BootTicket.objects.get(server=lab_server).source_address is None
    run_operation(response.json()["task"])  # the panel now reboots it into the network
    assert "kernel" in boot_script(at(MACHINE), lab_server)
    assert BootTicket.objects.get(server=lab_server).source_address == MACHINE


@pytest.mark.usefixtures("no_loopback")
def test_refusals_are_audited_once_per_address_and_endpoint_a_minute(lab_server, boot_network):
    for _ in range(50):
        assert_refused(at(OUTSIDE).get("/boot/ipxe", {"mac": lab_server.mac}))
    assert_refused(at(OUTSIDE).get("/boot/config/x"))
    assert len(refusals()) == 2
    # Many addresses (an IPv6 /64 has plenty) fill at most the minute's budget.
    for host in range(1, 200):
        assert_refused(at(f"2001:db8::{host:x}").get("/boot/ipxe"))
    assert len(refusals()) == boot.REFUSALS_AUDITED_PER_MINUTE


def test_a_flood_of_progress_reports_cannot_block_the_end_of_the_install(
    owner_api, client, lab_server, alma, key, settings
):
    op = start(owner_api, lab_server, alma, key)
    secret = secret_in(boot_script(client, lab_server))
    client.get(f"/boot/config/{secret}")
    settings.PANEL_BOOT_EVENTS_PER_TICKET = 3
    events = f"/boot/events/{secret}"
    answers = [client.post(events, {"event": "progress", "progress": 5}) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert client.post(events, {"event": "done"}).status_code == 202
    assert client.post(events, {"event": "done"}).status_code == 200  # once; a retry is a no-op
    run_operation(op.pk)
    assert Operation.objects.get(pk=op.pk).state == "succeeded"


def test_boot_endpoints_are_described_in_the_openapi_schema(anonymous_api):
    schema = anonymous_api.get("/api/schema/?format=json").json()
    boot_paths = {path for path in schema["paths"] if path.startswith("/boot/")}
    routes = {re.sub(r"<\w+:(\w+)>", r"{\1}", str(url.pattern)) for url in boot_urls.urlpatterns}
    assert boot_paths == {f"/boot/{route}" for route in routes}
    assert "/boot/config/{secret}/user-data" in boot_paths
    for path in boot_paths:
        for operation in schema["paths"][path].values():
            assert operation["tags"] == ["boot"] and operation["security"] == []
    assert re.search(r"boot network", schema["paths"]["/boot/ipxe"]["get"]["description"])


def test_request_logs_never_carry_a_ticket_secret(db, client, caplog):
    secret = "Zq3vS8cretTicketValue0000000000000000000000"
    for path in (f"/boot/config/{secret}", f"/boot/config/{secret}/user-data"):
        assert client.get(path, REMOTE_ADDR="127.0.0.1").status_code == 404
    client.post(f"/boot/events/{secret}", {"event": "done"}, REMOTE_ADDR="127.0.0.1")
    assert "Not Found: /boot/config/[secret]" in caplog.text
    assert secret not in caplog.text


@pytest.mark.django_db
def test_a_forged_forwarded_for_from_outside_does_not_open_the_boot_endpoints(client, settings):
    settings.PANEL_TRUSTED_PROXY_COUNT = 1
    settings.PANEL_TRUSTED_PROXY_CIDRS = ["192.0.2.10/32"]
    settings.PANEL_BOOT_ALLOWED_CIDRS = ["10.20.0.0/16"]
    forged = client.get(
        "/boot/ipxe?mac=52:54:00:00:00:01",
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="10.20.0.7",
    )
    assert forged.status_code == 404
    relayed = client.get(
        "/boot/ipxe?mac=52:54:00:00:00:01",
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_FORWARDED_FOR="10.20.0.7",
    )
    assert relayed.status_code == 200


@pytest.mark.django_db
def test_an_api_token_bound_to_networks_survives_a_garbage_forwarded_for(
    customer, anonymous_api, settings
):
    from panel import services as people

    settings.PANEL_TRUSTED_PROXY_COUNT = 1
    _, key = people.create_api_token(actor=None, user=customer, allowed_cidrs=["127.0.0.0/8"])
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = anonymous_api.get("/api/v1/servers/", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert answer.status_code == 200
