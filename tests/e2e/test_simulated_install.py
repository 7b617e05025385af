"""A simlab machine installs itself end to end: API -> real qcluster worker -> simlab BMC
-> the machine fetches /boot/ipxe, its config and reports progress over real HTTP to a
live panel -> finalize. Also its failures, and a worker killed along the way."""

import hashlib
import json
import re
import time

import pytest
from django_q.brokers import get_broker

from inventory import ipam
from inventory.models import Server
from panel.models import AuditEvent
from provisioning.models import BootTicket, Operation, OsTemplate
from provisioning.simlab import netboot
from provisioning.workflows.pxe import NETBOOT_STEPS
from tests.e2e.workers import Qcluster, wait_until
from tests.factories import ED25519, make_pool

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]
LEASE_SECONDS = 3
WORKER = dict(PANEL_OPERATION_LEASE_SECONDS=LEASE_SECONDS, PANEL_BMC_TIMEOUT=3)


@pytest.fixture
def machine(simlab, lab_server, live_server):
    """The lab server's machine, powered on, its network boot pointed at the live panel."""
    get_broker().purge_queue()
    simlab.change(
        lab_server.lab_port,
        power="on",
        boot_url=live_server.url,
        install_seconds=1,
        install_outcome="succeed",
    )
    yield lab_server.lab_port
    simlab.change(lab_server.lab_port, boot_url="", install_outcome="succeed")


@pytest.fixture
def worker():
    cluster = Qcluster(**WORKER)
    yield cluster
    cluster.kill()  # the test is over; a graceful stop takes django-q2 up to 20 s


def install(api, server, **body):
    response = api.post(f"/api/v1/servers/{server.pk}/install/", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["task"]


def ended(op_id: int, timeout: float = 60) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=op_id).state not in ("queued", "running"), timeout)
    return Operation.objects.get(pk=op_id)


def alma() -> int:
    return OsTemplate.objects.get(name="AlmaLinux 9").pk


def test_a_simulated_server_installs_itself(owner_api, lab_server, simlab, machine, worker):
    key = owner_api.post("/api/v1/ssh-keys/", {"name": "laptop", "public_key": ED25519}).json()
    op_id = install(owner_api, lab_server, os_template=alma(), raid="raid_1", ssh_keys=[key["id"]])
    op = ended(op_id)
    assert op.state == "succeeded", op.error
    assert op.progress == 100
    assert op.result == {"boot_device": "disk", "os": "AlmaLinux 9", "power_state": "on"}
    assert Server.objects.get(pk=lab_server.pk).bmc.power_state == "on"  # read after its boot
    state = simlab.wait_for(machine, os="AlmaLinux 9")  # it reboots after reporting done
    assert state["netboots"] == 1
    assert state["boot_device"] == "disk" and state["power"] == "on"
    assert "iPXE: loading the installer of AlmaLinux 9" in state["console"]
    assert Server.objects.get(pk=lab_server.pk).current_os == "AlmaLinux 9"
    assert BootTicket.objects.get(operation=op).state == "done"
    messages = list(op.events.values_list("message", flat=True))
    for expected in (
        "Power-cycled the server.",
        "The machine booted from the network and fetched its boot script.",
        "The installer fetched its config.",
        "Installer: Packages installed",
        "Installer: Installation finished",
        "AlmaLinux 9 is installed; the server boots from its disk.",
    ):
        assert expected in messages
    # What the customer sees of it, over the API.
    shown = owner_api.get(f"/api/v1/operations/{op_id}/").json()
    assert shown["state"] == "succeeded" and "password_hash" not in shown["params"]


def test_an_installer_that_fails(owner_api, lab_server, simlab, machine, worker):
    simlab.change(machine, install_outcome="fail")
    op = ended(install(owner_api, lab_server, os_template=alma(), password="Correct-Horse-9"))
    assert op.state == "failed"
    assert "The installer reported a failure: Simulated failure: disk sdb" in op.error
    state = simlab.machine(machine)
    assert state["boot_device"] == "disk" and state["os"] == ""
    assert Server.objects.get(pk=lab_server.pk).current_os == ""


def test_diagnostics_store_the_hardware_facts(owner_api, lab_server, simlab, machine, worker):
    simlab.change(machine, power="off")
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/diagnostics/", {"wipe": "none"}, format="json"
    )
    assert response.status_code == 202, response.content
    op = ended(response.json()["task"])
    assert op.state == "succeeded", op.error
    facts = Server.objects.get(pk=lab_server.pk).facts
    assert facts["cpus"] == 12 and [disk["name"] for disk in facts["disks"]] == ["sda", "sdb"]
    assert owner_api.get(f"/api/v1/servers/{lab_server.pk}/").json()["hardware_mismatch"] == []
    messages = list(op.events.values_list("message", flat=True))
    assert "The server was off; powered it on." in messages
    assert not [m for m in messages if "Wiped" in m]  # wipe "none" wipes nothing


def test_a_simulated_server_captures_and_restores_a_disk_image(
    owner_api, lab_server, simlab, machine, settings, tmp_path
):
    settings.MEDIA_ROOT, settings.PANEL_IMAGE_PIECE_MIB = tmp_path, 1
    worker = Qcluster(**WORKER, PANEL_MEDIA_ROOT=tmp_path)
    try:
        facts = json.loads(netboot.SIMULATED_FACTS)
        Server.objects.filter(pk=lab_server.pk).update(facts=facts)
        body = {"name": "fleet", "disks": ["sda"]}
        response = owner_api.post(f"/api/v1/servers/{lab_server.pk}/capture/", body)
        assert response.status_code == 202, response.content
        op = ended(response.json()["task"])
        assert op.state == "succeeded", op.error
        image = owner_api.get(f"/api/v1/images/{response.json()['image']}/").json()
        assert image["disks"] == [
            {"name": "sda", "bytes": 2**20, "sha256": hashlib.sha256(bytes(2**20)).hexdigest()}
        ]
        response = owner_api.post(
            f"/api/v1/servers/{lab_server.pk}/restore/", {"image": image["id"]}
        )
        op = ended(response.json()["task"])
        assert op.state == "succeeded", op.error
        assert "Agent: restored sda" in simlab.machine(machine)["console"]
    finally:
        worker.kill()


def assert_installed_once(op: Operation, machine: dict) -> None:
    """Succeeded, and nothing done twice: one reboot, one network boot, one finalize."""
    assert op.state == "succeeded", op.error
    assert machine["netboots"] == 1
    messages = list(op.events.values_list("message", flat=True))
    assert messages.count("Power-cycled the server.") == 1
    assert sum(m.endswith("is installed; the server boots from its disk.") for m in messages) == 1
    audit = AuditEvent.objects.filter(action="operation.succeeded", detail__operation=op.pk)
    assert audit.count() == 1


def test_a_worker_killed_while_the_install_runs(owner_api, lab_server, simlab, machine):
    """Killed while the install is parked in `installing`: the installer's `done` reaches
    the panel with no worker alive; the next worker finishes the install exactly once."""
    simlab.change(machine, install_seconds=4)
    first = Qcluster(**WORKER)
    try:
        op_id = install(owner_api, lab_server, os_template=alma(), password="Correct-Horse-9")
        wait_until(lambda: Operation.objects.filter(pk=op_id, step="installing").exists())
        first.kill()
    finally:
        first.stop()
    wait_until(lambda: BootTicket.objects.filter(operation_id=op_id, state="done").exists())
    assert Operation.objects.get(pk=op_id).state == "running"
    second = Qcluster(**WORKER)
    try:
        op = ended(op_id)
    finally:
        second.kill()  # done with it; a graceful stop takes django-q2 up to 20 s
    assert_installed_once(op, simlab.machine(machine))


def test_a_worker_killed_mid_step(owner_api, lab_server, simlab, machine):
    """Killed while it holds the operation in `set_network_boot` (the BMC is not answering):
    after the lease runs out the next worker resumes that step and the install completes."""
    simlab.change(machine, silent=True)
    first = Qcluster(**WORKER)
    try:
        op_id = install(owner_api, lab_server, os_template=alma(), password="Correct-Horse-9")
        wait_until(
            lambda: Operation.objects.filter(
                pk=op_id, step="set_network_boot", state="running"
            ).exists()
        )
        first.kill()
    finally:
        first.stop()
    simlab.change(machine, silent=False)
    time.sleep(LEASE_SECONDS + 0.5)
    second = Qcluster(**WORKER)  # its own recovery takes the operation over
    try:
        op = ended(op_id)
    finally:
        second.kill()  # done with it; a graceful stop takes django-q2 up to 20 s
    assert_installed_once(op, simlab.machine(machine))
    messages = op.events.values_list("message", flat=True)
    assert any(m.startswith("Resumed at step 'set_network_boot'") for m in messages)


ATTACKER = "127.0.0.66"  # another host on the boot network (all of 127/8 is loopback)
SNIFFED = re.compile(r"/boot/config/([\w-]+)")


def test_a_machine_on_another_address_cannot_take_over_an_install(
    admin, owner_api, lab_server, simlab, machine, live_server, worker
):
    """The MAC-takeover attack: while the real machine installs, another host on the boot
    network asks for the victim's boot script by MAC, then uses the ticket it sniffed off
    the wire (boot traffic is plain HTTP) to read the config and report the end. It is
    refused and audited; the real machine installs undisturbed."""
    victim = simlab.change(machine, install_seconds=6)
    pool = make_pool(cidr="127.1.0.0/16", first="127.1.0.1", last="127.1.255.254", boot=True)
    ipam.allocate_ip(actor=admin, server=lab_server, pool=pool, address=victim["address"])

    def attack(method: str, path: str, **form) -> tuple[int, str]:
        return netboot.request(method, f"{live_server.url}{path}", source=ATTACKER, **form)

    op_id = install(owner_api, lab_server, os_template=alma(), password="Correct-Horse-9")
    netbooting = Operation.objects.filter(pk=op_id, step__in=(*NETBOOT_STEPS, "installing"))
    # Asking as the install is requested, and again once the panel reboots the machine.
    for moment in ("requested", "netbooting"):
        if moment == "netbooting":
            wait_until(netbooting.exists)
        status, script = attack("GET", f"/boot/ipxe?mac={lab_server.mac}")
        assert status == 200 and "kernel" not in script and "/boot/config/" not in script, moment

    fetched = ("config_fetched", "done")
    wait_until(lambda: BootTicket.objects.filter(operation=op_id, state__in=fetched).exists())
    console = simlab.machine(machine)["console"]
    sniffed = [m.group(1) for line in console if (m := SNIFFED.search(line))][-1]
    for path in (f"/boot/config/{sniffed}", f"/boot/config/{sniffed}/meta-data"):
        assert attack("GET", path)[0] == 404
    assert attack("POST", f"/boot/events/{sniffed}", event="failed", message="pwned")[0] == 404
    assert attack("POST", f"/boot/events/{sniffed}", event="done")[0] == 404

    op = ended(op_id)
    assert_installed_once(op, simlab.wait_for(machine, os="AlmaLinux 9"))
    assert BootTicket.objects.get(operation=op).source_address == victim["address"]
    refused = AuditEvent.objects.filter(action="boot.refused", source_ip=ATTACKER)
    assert {e.detail["endpoint"] for e in refused} == {"ipxe", "config", "meta-data", "events"}
    assert not AuditEvent.objects.filter(action="boot.refused").exclude(source_ip=ATTACKER)
    assert "pwned" not in str(list(op.events.values_list("message", flat=True)))
