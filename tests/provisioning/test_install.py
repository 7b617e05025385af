"""Install end to end: API -> worker steps -> simlab BMC, with the machine's side (iPXE
script, config, installer reports) played through the boot endpoints."""

import importlib
import re

import pytest
from django.utils import timezone

from inventory.models import Bmc, Server
from provisioning.models import BootTicket, Operation, OsTemplate
from provisioning.tasks import run_operation
from tests.factories import make_server


def install(api, server, **body):
    return api.post(f"/api/v1/servers/{server.pk}/install/", body, format="json")


def start(api, server, template, key, **extra):
    response = install(api, server, os_template=template.pk, ssh_keys=[key.pk], **extra)
    assert response.status_code == 202, response.content
    op = Operation.objects.get(pk=response.json()["task"])
    run_operation(op.pk)
    op.refresh_from_db()
    return op


def boot(client, server) -> str:
    response = client.get("/boot/ipxe", {"mac": server.mac})
    assert response.status_code == 200
    return response.content.decode()


def secret_in(script: str) -> str:
    return re.search(r"/boot/config/([\w-]+)", script).group(1)


def test_a_full_install(owner_api, client, lab_server, simlab, alma, key):
    simlab.change(lab_server.lab_port, power="on")
    op = start(owner_api, lab_server, alma, key, password="Correct-Horse-9", raid="raid_1")
    assert (op.state, op.step) == ("running", "wait_pxe")
    machine = simlab.machine(lab_server.lab_port)
    # It booted with the one-time network override (and, with no PXE server here, its disk).
    assert machine["netboots"] == 1 and machine["boot_device"] == "default"
    assert "Correct-Horse-9" not in str(op.params) and op.params["password_hash"].startswith("$6$")
    assert "password_hash" not in owner_api.get(f"/api/v1/operations/{op.pk}/").json()["params"]

    script = boot(client, lab_server)
    assert script.startswith("#!ipxe")
    assert (
        "kernel http://repo.almalinux.org/almalinux/9/BaseOS/x86_64/os/images/pxeboot/vmlinuz"
        in script
    )
    secret = secret_in(script)
    assert BootTicket.objects.get(operation=op).secret_hash != secret  # only the hash is kept
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.step == "installing"

    config = client.get(f"/boot/config/{secret}")
    assert config.status_code == 200 and "rootpw --iscrypted '$6$" in config.content.decode()
    assert client.get(f"/boot/config/{secret}").status_code == 404  # once
    events = f"/boot/events/{secret}"
    assert (
        client.post(
            events, {"event": "progress", "progress": 50, "message": "Packages"}
        ).status_code
        == 202
    )
    op.refresh_from_db()
    assert op.progress == 62
    assert (
        client.post(events, {"event": "done"}, content_type="application/json").status_code == 202
    )
    assert client.post(events, {"event": "done"}).status_code == 200  # a retry is harmless
    Bmc.objects.filter(server=lab_server).update(power_state="off", power_state_read_at=None)
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.state == "succeeded", op.error
    bmc = Bmc.objects.get(server=lab_server)  # read after the final boot, not at the next sweep
    assert bmc.power_state == "on" and bmc.power_state_read_at is not None
    assert simlab.machine(lab_server.lab_port)["boot_device"] == "disk"
    assert Server.objects.get(pk=lab_server.pk).current_os == "AlmaLinux 9"
    assert BootTicket.objects.get(operation=op).state == "done"
    assert client.post(events, {"event": "progress", "progress": 1}).status_code == 409
    assert "Installer: Packages" in [e.message for e in op.events.all()]


def test_unknown_malformed_or_idle_macs_boot_the_local_disk(client, lab_server):
    for mac in ("", "zz:zz", "02:00:00:ff:ff:ff", lab_server.mac):
        script = client.get("/boot/ipxe", {"mac": mac}).content.decode()
        assert script.startswith("#!ipxe") and "exit" in script and "kernel" not in script


def test_the_installer_reporting_failure_fails_the_operation_and_restores_the_disk(
    owner_api, client, lab_server, simlab, alma, key
):
    op = start(owner_api, lab_server, alma, key)
    secret = secret_in(boot(client, lab_server))
    client.get(f"/boot/config/{secret}")
    client.post(f"/boot/events/{secret}", {"event": "failed", "message": "No disks found"})
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.state == "failed"
    assert op.error == "The installer reported a failure: No disks found"
    assert simlab.machine(lab_server.lab_port)["boot_device"] == "disk"


def test_no_pxe_boot_within_the_deadline_fails_naming_the_step(
    owner_api, lab_server, simlab, alma, key
):
    op = start(owner_api, lab_server, alma, key)
    Operation.objects.filter(pk=op.pk).update(deadline=timezone.now())
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.state == "failed"
    assert op.error.startswith("Step 'wait_pxe': The server did not boot from the network")
    assert simlab.machine(lab_server.lab_port)["boot_device"] == "disk"
    assert BootTicket.objects.get(operation=op).state == "revoked"


def test_cancel_before_the_config_is_fetched(owner_api, client, lab_server, simlab, alma, key):
    op = start(owner_api, lab_server, alma, key)
    boot(client, lab_server)
    response = owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert "kernel" not in boot(client, lab_server)  # the ticket is dead at once
    run_operation(op.pk)
    op.refresh_from_db()
    assert op.state == "cancelled"
    assert simlab.machine(lab_server.lab_port)["boot_device"] == "disk"


def test_cancel_after_the_config_is_fetched_is_refused(owner_api, client, lab_server, alma, key):
    op = start(owner_api, lab_server, alma, key)
    client.get(f"/boot/config/{secret_in(boot(client, lab_server))}")
    response = owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")
    assert response.status_code == 409
    assert "already fetched its installer config" in response.json()["detail"]


def test_manual_reboot_waits_for_the_owner(owner_api, lab_server, simlab, alma, key):
    simlab.change(lab_server.lab_port, power="on")
    op = start(owner_api, lab_server, alma, key, reboot="manual")
    assert op.step == "wait_pxe"
    assert simlab.machine(lab_server.lab_port)["power_on_count"] == 0


def test_requests_that_cannot_be_installed_are_clear_400s_and_409s(
    owner_api, other_api, lab_server, alma, key
):
    assert (
        install(owner_api, lab_server, os_template=alma.pk, raid="raid_5", ssh_keys=[key.pk])
        .json()["raid"][0]
        .startswith("RAID 5 (parity, 3+ disks) needs")
    )
    assert "password" in install(owner_api, lab_server, os_template=alma.pk).json()
    assert "password" in install(owner_api, lab_server, os_template=alma.pk, password="123").json()
    assert (
        "os_template" in install(owner_api, lab_server, os_template=99999, ssh_keys=[key.pk]).json()
    )
    utility = OsTemplate.objects.get(is_utility=True)
    assert (
        install(owner_api, lab_server, os_template=utility.pk, ssh_keys=[key.pk]).status_code == 400
    )
    assert (
        install(other_api, lab_server, os_template=alma.pk, password="Correct-Horse-9").status_code
        == 404
    )
    assert install(owner_api, lab_server, os_template=alma.pk, ssh_keys=[key.pk]).status_code == 202
    second = install(owner_api, lab_server, os_template=alma.pk, ssh_keys=[key.pk])
    assert (
        second.status_code == 409 and "already has an active operation" in second.json()["detail"]
    )


def test_a_bmc_error_while_setting_network_boot_fails_the_install(
    owner_api, admin, alma, key, customer
):
    server = make_server(actor=admin, owner=customer)  # its BMC (TEST-NET-1) never answers
    op = start(owner_api, server, alma, key)
    assert op.state == "failed" and "No answer from the BMC" in op.error
    assert BootTicket.objects.get(operation=op).state == "revoked"


def test_installer_events_are_validated_and_bounded(
    owner_api, client, lab_server, alma, key, settings
):
    start(owner_api, lab_server, alma, key)
    events = f"/boot/events/{secret_in(boot(client, lab_server))}"
    assert client.post(events, {"event": "explode"}).status_code == 400
    assert client.post(events, {"event": "progress", "progress": 300}).status_code == 400
    assert client.post(events, "[1]", content_type="application/json").status_code == 400
    assert client.post("/boot/events/not-a-ticket", {"event": "log"}).status_code == 404
    settings.PANEL_BOOT_EVENTS_PER_TICKET = 2
    assert client.post(events, {"event": "log", "message": "a"}).status_code == 202
    assert client.post(events, {"event": "log", "message": "b"}).status_code == 202
    assert client.post(events, {"event": "log", "message": "c"}).status_code == 429


def test_customers_see_public_templates_without_their_internals(owner_api, admin_api):
    listed = owner_api.get("/api/v1/os-templates/").json()["results"]
    assert {t["name"] for t in listed} == {
        "AlmaLinux 9",
        "Rocky Linux 9",
        "Debian 12",
        "Ubuntu 24.04 LTS",
    }
    assert "config" not in listed[0]
    assert owner_api.post("/api/v1/os-templates/", {"name": "x"}).status_code == 403
    broken = admin_api.post(
        "/api/v1/os-templates/",
        {"name": "x", "family": "kickstart", "kernel_url": "http://k", "config": "{% for %}"},
        format="json",
    )
    assert broken.status_code == 400 and "config" in broken.json()


def test_diagnostics_store_the_facts_the_utility_image_reports(owner_api, client, lab_server):
    response = owner_api.post(f"/api/v1/servers/{lab_server.pk}/diagnostics/", {"wipe": "simple"})
    assert response.status_code == 202, response.content
    op_id = response.json()["task"]
    run_operation(op_id)
    script = boot(client, lab_server)
    assert "metalpanel.script=" in script
    secret = re.search(r"metalpanel.script=\S+/boot/config/([\w-]+)", script).group(1)
    assert "wipe=simple\n" in client.get(f"/boot/config/{secret}").content.decode()
    facts = {"cpu": "Xeon", "cpus": 12, "disks": "sda sdb"}
    posted = client.post(
        f"/boot/events/{secret}",
        {"event": "facts", "facts": facts},
        content_type="application/json",
    )
    assert posted.status_code == 202, posted.content
    client.post(f"/boot/events/{secret}", {"event": "done"})
    run_operation(op_id)
    op = Operation.objects.get(pk=op_id)
    assert op.state == "succeeded"
    assert op.result == {"boot_device": "disk", "power_state": "on", "wipe": "simple"}
    assert Server.objects.get(pk=lab_server.pk).facts == facts


def test_wipe_needs_a_mode(owner_api, lab_server):
    response = owner_api.post(f"/api/v1/servers/{lab_server.pk}/wipe/", {"mode": "shred"})
    assert response.status_code == 400 and "mode" in response.json()


def test_template_tags_must_be_a_list_of_words(admin_api):
    body = {"name": "x", "family": "kickstart", "kernel_url": "http://k", "tags": None}
    assert admin_api.post("/api/v1/os-templates/", body, format="json").status_code == 400
    body["tags"] = ["linux"]
    assert admin_api.post("/api/v1/os-templates/", body, format="json").status_code == 201


def test_the_password_is_hashed_outside_the_write_transaction(
    owner_api, lab_server, alma, monkeypatch
):
    """Hashing costs tens of ms of CPU; inside BEGIN IMMEDIATE (SQLite) it held every other
    writer of the panel waiting (bench/fleet_install.py showed 4.5 s queue waits)."""
    from django.db import connection

    from provisioning import installers

    seen = []
    real_hash = installers.hash_password
    test_depth = len(connection.atomic_blocks)  # the test's own transaction

    def recording_hash(password):  # a spy: the real hash still runs
        seen.append(len(connection.atomic_blocks) - test_depth)
        return real_hash(password)

    monkeypatch.setattr(installers, "hash_password", recording_hash)
    response = install(owner_api, lab_server, os_template=alma.pk, password="Correct-Horse-9")
    assert response.status_code == 202, response.content
    assert seen == [0]


def run_utility(api, client, server, path: str, body: dict) -> tuple[Operation, str]:
    """Start diagnostics or a wipe, play the utility image to `done`; the op and its config."""
    response = api.post(f"/api/v1/servers/{server.pk}/{path}/", body, format="json")
    assert response.status_code == 202, response.content
    op_id = response.json()["task"]
    run_operation(op_id)
    script = boot(client, server)
    secret = re.search(r"metalpanel.script=\S+/boot/config/([\w-]+)", script).group(1)
    config = client.get(f"/boot/config/{secret}").content.decode()
    client.post(f"/boot/events/{secret}", {"event": "done"})
    run_operation(op_id)
    op = Operation.objects.get(pk=op_id)
    assert op.state == "succeeded", op.error
    return op, config


@pytest.mark.parametrize(
    ("path", "body", "os_after"),
    [
        ("wipe", {"mode": "simple"}, ""),
        ("diagnostics", {"wipe": "full"}, ""),
        ("diagnostics", {"wipe": "none"}, "AlmaLinux 9"),
    ],
)
def test_a_wiped_server_no_longer_reports_its_old_os(
    owner_api, client, lab_server, path, body, os_after
):
    Server.objects.filter(pk=lab_server.pk).update(current_os="AlmaLinux 9")  # installed before
    run_utility(owner_api, client, lab_server, path, body)
    assert owner_api.get(f"/api/v1/servers/{lab_server.pk}/").json()["os_template"] == os_after


def test_diagnostics_without_a_wipe_neither_wipe_nor_say_they_did(owner_api, client, lab_server):
    _, config = run_utility(owner_api, client, lab_server, "diagnostics", {"wipe": "none"})
    assert 'wipe_disks "$wipe"' not in config and "then wipe" not in config
    _, config = run_utility(owner_api, client, lab_server, "diagnostics", {"wipe": "simple"})
    assert "wipe=simple\n" in config and 'wipe_disks "$wipe"' in config


# The utility script a panel held before migrations 0006 and 0007.
UTILITY_SHIPPED_IN_0004 = r"""#!/bin/sh
# Metalpanel utility image on {{ server.name }}: report hardware facts, then wipe ({{ wipe }}).
post() { wget -q -O /dev/null --post-data "$1" "{{ events_url }}" || true; }
post "event=progress&progress=10&message=Utility image started"
facts=$(printf '{"cpu": "%s", "cpus": %s, "ram_mb": %s, "disks": "%s"}' \
  "$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
  "$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" "$(ls /sys/block | grep -v -e loop -e ram | tr '\n' ' ')")
post "event=facts&facts=$facts"
for disk in $(ls /sys/block | grep -v -e loop -e ram); do
  case "{{ wipe }}" in
    simple) wipefs -a "/dev/$disk" && dd if=/dev/zero of="/dev/$disk" bs=1M count=100 ;;
    full) dd if=/dev/zero of="/dev/$disk" bs=4M status=none ;;
  esac
  post "event=progress&progress=80&message=Wiped /dev/$disk ({{ wipe }})"
done
post "event=done&message=Diagnostics finished"
"""


def test_a_utility_script_shipped_before_becomes_todays_script(db):
    """Migrations 0006 (wipe only when asked) and 0007 (filtered values) on a panel whose
    utility template is the one 0004 shipped."""
    from pathlib import Path

    from django.apps import apps

    guarded = importlib.import_module(
        "provisioning.migrations.0006_utility_image_wipes_only_when_asked"
    )
    filtered = importlib.import_module("provisioning.migrations.0007_templates_escape_values")
    shipped = (Path(__file__).parents[2] / "templates/provisioning/os/utility.sh").read_text()
    OsTemplate.objects.filter(is_utility=True).update(config=UTILITY_SHIPPED_IN_0004)
    guarded.forwards(apps, None)
    utility = OsTemplate.objects.get(is_utility=True)
    assert '{% if wipe != "none" %}\nfor disk' in utility.config
    guarded.forwards(apps, None)  # twice is harmless
    assert OsTemplate.objects.get(is_utility=True).config == utility.config
    filtered.forwards(apps, None)
    assert OsTemplate.objects.get(is_utility=True).config == shipped
