"""Rescue end to end: API or portal (real Chromium) -> real qcluster worker -> simlab BMC
-> the machine boots the rescue system from the live panel's boot endpoints and waits at
its shell (its screen, as simlab's control API returns it) -> exit -> it boots its disk.
Also the time limit."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from passlib.hash import sha512_crypt

from panel.models import AuditEvent
from provisioning import services
from provisioning.models import BootTicket, Operation, OsTemplate, RescueSession
from provisioning.simlab.netboot import RESCUE_BANNER, RESCUE_PROMPT
from tests.e2e.browser import needs_chromium, shoot, sync_api
from tests.e2e.test_portal_browser import log_in, wait_for_state
from tests.e2e.workers import Qcluster, wait_until
from tests.factories import ED25519, FINGERPRINT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]


@pytest.fixture
def machine(simlab, lab_server, live_server):
    """The lab server's machine, running, its network boot pointed at the live panel."""
    get_broker().purge_queue()
    simlab.change(lab_server.lab_port, power="on", boot_url=live_server.url, install_seconds=1)
    yield lab_server.lab_port
    simlab.change(lab_server.lab_port, boot_url="")


@pytest.fixture
def worker():
    cluster = Qcluster(PANEL_OPERATION_LEASE_SECONDS=3, PANEL_BMC_TIMEOUT=3)
    yield cluster
    cluster.kill()  # the test is over; a graceful stop takes django-q2 up to 20 s


def ended(op_id: int, timeout: float = 60) -> Operation:
    wait_until(lambda: Operation.objects.get(pk=op_id).state not in ("queued", "running"), timeout)
    return Operation.objects.get(pk=op_id)


def enter_rescue(api, server, **body) -> dict:
    response = api.post(f"/api/v1/servers/{server.pk}/rescue/", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def at_the_rescue_shell(simlab, port: int) -> dict:
    """The machine once its screen waits at the rescue system's root shell."""
    return wait_until(
        lambda: (state := simlab.machine(port))["screen"].endswith(RESCUE_PROMPT) and state, 20
    )


def on_its_disk(simlab, port: int, os_name: str) -> dict:
    """The machine once its latest boot was from its disk, into `os_name`."""

    def booted(state: dict) -> bool:
        lines = state["console"]
        boots = [n for n, line in enumerate(lines) if line.startswith("Firmware: ")]
        latest = lines[boots[-1] :] if boots else lines
        return f"Booting from the local disk: {os_name}" in latest

    return wait_until(lambda: booted(state := simlab.machine(port)) and state, 20)


def test_a_customer_rescues_a_server_and_leaves_the_rescue_system(
    owner_api, lab_server, simlab, machine, worker
):
    alma = OsTemplate.objects.get(name="AlmaLinux 9").pk
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/install/",
        {"os_template": alma, "ssh_key_texts": [ED25519]},
        format="json",
    )
    assert ended(response.json()["task"]).state == "succeeded"
    on_its_disk(simlab, machine, "AlmaLinux 9")
    boots_before = simlab.machine(machine)["power_on_count"]
    answer = enter_rescue(owner_api, lab_server, ssh_keys=[ED25519], password=True)
    op = ended(answer["task"])
    assert op.state == "succeeded", op.error
    assert op.result == {"boot_device": "disk", "power_state": "on"}
    assert "password_hash" not in op.params  # dropped once the rescue system is up
    assert BootTicket.objects.get(operation=op).state == "done"

    # Its screen: the rescue system booted from the panel, waiting at a root shell.
    screen = simlab.machine(machine)
    assert "iPXE: loading the rescue system" in screen["console"]
    assert RESCUE_BANNER in screen["console"]
    assert screen["screen"].endswith(RESCUE_PROMPT)
    assert screen["os"] == "AlmaLinux 9"  # the disk is untouched

    # The API says so, and how to log in.
    shown = owner_api.get(f"/api/v1/servers/{lab_server.pk}/").json()["rescue"]
    assert shown["user"] == "root" and shown["password"] is True
    assert shown["ssh_keys"] == [{"name": "alice@laptop", "fingerprint": FINGERPRINT}]
    assert shown["address"] is None and "SSH as root to its address" in shown["login"]

    # A power cycle is refused until it leaves the rescue system.
    refused = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/power/", {"action": "cycle"}, format="json"
    )
    assert refused.status_code == 409 and "rescue" in refused.json()["detail"]

    response = owner_api.post(f"/api/v1/servers/{lab_server.pk}/rescue/exit/", {}, format="json")
    assert response.status_code == 202, response.content
    exit_op = ended(response.json()["task"])
    assert exit_op.state == "succeeded", exit_op.error
    state = on_its_disk(simlab, machine, "AlmaLinux 9")
    assert state["boot_device"] == "disk" and state["power"] == "on"
    assert state["power_on_count"] == boots_before + 2  # into the rescue system, and out
    assert owner_api.get(f"/api/v1/servers/{lab_server.pk}/").json()["rescue"] is None
    session = RescueSession.objects.get(operation=op)
    assert session.ended_at is not None
    assert session.end_reason == "Left at the request of the owner."
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"operation.request.rescue", "rescue.started", "rescue.ended"} <= actions


def test_the_time_limit_ends_the_rescue(owner_api, lab_server, simlab, machine, worker):
    op = ended(enter_rescue(owner_api, lab_server, password=True)["task"])
    assert op.state == "succeeded", op.error
    at_the_rescue_shell(simlab, machine)
    RescueSession.objects.filter(operation=op).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    (exit_op,) = services.end_expired_rescues()  # what the schedule runs every minute

    assert ended(exit_op.pk).state == "succeeded"
    on_its_disk(simlab, machine, "no operating system")
    session = RescueSession.objects.get(operation=op)
    assert session.end_reason == "The rescue system's time limit ran out."
    assert services.end_expired_rescues() == []


@needs_chromium
def test_a_customer_rescues_a_server_from_the_portal(
    page, customer, lab_server, simlab, machine, worker
):
    log_in(page, customer.email)
    page.goto(f"/servers/{lab_server.pk}/")
    page.get_by_role("link", name="Rescue system…").click()
    page.get_by_label("Set a one-time root password").check()
    shoot(page, "rescue-form")
    page.get_by_role("button", name="Restart into the rescue system").click()

    shown = page.get_by_label("One-time root password")
    sync_api.expect(shown).to_be_visible()
    op = Operation.objects.get(server=lab_server, kind=Operation.Kind.RESCUE)
    assert sha512_crypt.verify(shown.input_value(), op.params["password_hash"])
    shoot(page, "rescue-password")
    page.get_by_role("link", name=f"operation #{op.pk}").click()
    wait_for_state(page, "Succeeded")
    at_the_rescue_shell(simlab, machine)

    page.goto(f"/servers/{lab_server.pk}/")
    sync_api.expect(page.get_by_role("status").first).to_contain_text(
        "This server is in the rescue system"
    )
    sync_api.expect(page.get_by_role("link", name="Reinstall…")).to_have_count(0)
    shoot(page, "rescue-server")
    page.get_by_role("button", name="Leave the rescue system").click()
    wait_for_state(page, "Succeeded")
    on_its_disk(simlab, machine, "no operating system")
    page.goto(f"/servers/{lab_server.pk}/")
    sync_api.expect(page.get_by_role("link", name="Rescue system…")).to_be_visible()
