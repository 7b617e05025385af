"""Rescue requests over the API: who may ask, what is checked, the one-time password (shown
once, stored hashed), and what a server in the rescue system refuses until it leaves it."""

import re
import shlex
from datetime import timedelta

import pytest
from django.utils import timezone
from passlib.hash import sha512_crypt

from inventory import ipam
from panel.models import AuditEvent, IdempotencyRecord
from provisioning import services
from provisioning.bmc.drivers import driver_for
from provisioning.models import BootTicket, Operation, RescueSession
from provisioning.workflows import rescue
from tests.factories import ED25519, FINGERPRINT, RSA_1024, make_pool, make_server
from tests.provisioning.test_suspend_api import connect_ports

pytestmark = pytest.mark.usefixtures("shipped_os_templates")


def rescue_path(server, tail: str = "") -> str:
    return f"/api/v1/servers/{server.pk}/rescue/{tail}"


def in_rescue(server, actor, **request) -> RescueSession:
    """The server in the rescue system: requested, and up (as the workflow ends it)."""
    started = services.start_rescue(actor=actor, server=server, **(request or {"password": True}))
    op = started.operation
    Operation.objects.filter(pk=op.pk).update(
        state=Operation.State.SUCCEEDED, params=op.params_after_end()
    )
    BootTicket.objects.filter(operation=op).update(state=BootTicket.State.DONE)
    rescue.started(op)
    return RescueSession.objects.get(operation=op)


def test_the_owner_asks_for_a_rescue_with_keys_and_a_one_time_password(owner_api, owned_server):
    answer = owner_api.post(
        rescue_path(owned_server), {"ssh_keys": [ED25519], "password": True}, format="json"
    )

    assert answer.status_code == 202, answer.content
    body = answer.json()
    op = Operation.objects.get(pk=body["task"])
    assert body["id"] == owned_server.pk and op.kind == Operation.Kind.RESCUE
    assert answer["Cache-Control"] == "no-store"
    password = body["password"]
    assert len(password) >= 16
    assert password not in str(op.params)
    assert sha512_crypt.verify(password, op.params["password_hash"])
    assert op.params["ssh_keys"] == [ED25519] and op.params["rescue"] is True
    session = RescueSession.objects.get(operation=op)
    assert session.password is True
    assert session.ssh_keys == [["alice@laptop", FINGERPRINT]]
    assert session.started_at is None  # not in rescue until the rescue system is up
    # Shown once: nowhere to read it again, nor its hash.
    shown = owner_api.get(f"/api/v1/operations/{op.pk}/").json()
    assert "password_hash" not in shown["params"]
    assert password not in str(shown)
    audited = AuditEvent.objects.get(action="operation.request.rescue")
    assert "password_hash" not in audited.detail["params"]
    assert password not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_a_retry_with_the_same_idempotency_key_gets_the_same_password_stored_encrypted(
    owner_api, owned_server
):
    def ask():
        return owner_api.post(
            rescue_path(owned_server), {"password": True}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
        )

    first, retry = ask(), ask()

    assert retry["Idempotent-Replayed"] == "true" and retry["Cache-Control"] == "no-store"
    assert retry.json() == first.json()
    assert Operation.objects.count() == 1
    stored = IdempotencyRecord.objects.get(key="r-1").response_body
    assert first.json()["password"] not in str(stored)
    assert stored["password"] is None


def test_keys_alone_set_no_password(owner_api, owned_server):
    answer = owner_api.post(rescue_path(owned_server), {"ssh_keys": [ED25519]}, format="json")

    assert answer.status_code == 202, answer.content
    assert answer.json()["password"] is None
    assert "password_hash" not in Operation.objects.get(pk=answer.json()["task"]).params


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "ssh_keys"),
        ({"password": False, "ssh_keys": []}, "ssh_keys"),
        ({"ssh_keys": ["not a key"]}, "ssh_keys"),
        ({"ssh_keys": [RSA_1024]}, "ssh_keys"),  # too weak
        ({"password": "yes please"}, "password"),
        ({"password": True, "root_password": "chosen"}, "root_password"),
    ],
)
def test_strict_input(owner_api, owned_server, body, field):
    answer = owner_api.post(rescue_path(owned_server), body, format="json")

    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not Operation.objects.exists()


def test_anonymous_is_refused(anonymous_api, owned_server):
    answer = anonymous_api.post(rescue_path(owned_server), {"password": True}, format="json")
    assert answer.status_code in (401, 403)
    assert not Operation.objects.exists()


def test_another_customer_does_not_see_the_server(other_api, owned_server):
    assert other_api.post(rescue_path(owned_server), {"password": True}).status_code == 404
    in_rescue(owned_server, owned_server.owner)
    assert other_api.post(rescue_path(owned_server, "exit/"), {}).status_code == 404
    assert RescueSession.objects.current().count() == 1


def test_staff_rescue_any_server(admin_api, owned_server):
    answer = admin_api.post(rescue_path(owned_server), {"password": True}, format="json")
    assert answer.status_code == 202, answer.content


def test_a_server_in_rescue_says_so_and_how_to_log_in(owner_api, owned_server, customer, admin):
    ipam.allocate_ip(actor=admin, server=owned_server, pool=make_pool())
    session = in_rescue(owned_server, customer, ssh_keys=[ED25519], password=True)

    shown = owner_api.get(f"/api/v1/servers/{owned_server.pk}/").json()["rescue"]

    assert shown["operation"] == session.operation_id
    assert shown["user"] == "root" and shown["password"] is True
    assert shown["ssh_keys"] == [{"name": "alice@laptop", "fingerprint": FINGERPRINT}]
    assert shown["expires_at"] is not None
    assert shown["address"] == "192.0.2.10"
    assert shown["login"].startswith("ssh root@192.0.2.10 with your SSH keys or the one-time ")
    assert "or the server's console" in shown["login"]
    listed = owner_api.get("/api/v1/servers/").json()["results"][0]
    assert listed["rescue"]["operation"] == session.operation_id


@pytest.mark.parametrize(
    "path, body",
    [
        ("power/", {"action": "cycle"}),
        ("power/", {"action": "off"}),
        ("boot-device/", {"device": "pxe"}),
        ("diagnostics/", {}),
        ("wipe/", {"mode": "simple"}),
        ("rescue/", {"password": True}),
    ],
)
def test_a_server_in_rescue_refuses_other_operations(
    owner_api, admin_api, owned_server, customer, path, body
):
    in_rescue(owned_server, customer)

    for api in (owner_api, admin_api):  # staff too, unless they force it
        answer = api.post(f"/api/v1/servers/{owned_server.pk}/{path}", body, format="json")
        assert answer.status_code == 409, answer.content
        assert "is in the rescue system" in answer.json()["detail"]
    assert Operation.objects.count() == 1


def test_a_reinstall_is_refused_in_rescue(owner_api, owned_server, customer, alma):
    in_rescue(owned_server, customer)

    answer = owner_api.post(
        f"/api/v1/servers/{owned_server.pk}/install/",
        {"os_template": alma.pk, "ssh_key_texts": [ED25519]},
        format="json",
    )

    assert answer.status_code == 409
    assert "rescue exit" in answer.json()["detail"]


def test_staff_may_force_a_reinstall_which_ends_the_rescue(admin_api, owned_server, customer, alma):
    session = in_rescue(owned_server, customer)

    answer = admin_api.post(
        f"/api/v1/servers/{owned_server.pk}/install/",
        {"os_template": alma.pk, "ssh_key_texts": [ED25519], "force": True},
        format="json",
    )

    assert answer.status_code == 202, answer.content
    session.refresh_from_db()
    assert session.ended_at is not None and "forced" in session.end_reason
    forced = AuditEvent.objects.get(action="rescue.forced")
    assert forced.actor.is_admin and forced.detail["operation"] == session.operation_id
    assert admin_api.get(f"/api/v1/servers/{owned_server.pk}/").json()["rescue"] is None


def test_a_customer_may_not_force(owner_api, owned_server, customer):
    in_rescue(owned_server, customer)

    answer = owner_api.post(
        f"/api/v1/servers/{owned_server.pk}/power/",
        {"action": "cycle", "force": True},
        format="json",
    )

    assert answer.status_code == 403
    assert "Only hosting staff may force" in answer.json()["detail"]
    assert RescueSession.objects.current().count() == 1


def test_the_owner_leaves_the_rescue_system(owner_api, owned_server, customer):
    in_rescue(owned_server, customer)

    answer = owner_api.post(rescue_path(owned_server, "exit/"), {}, format="json")

    assert answer.status_code == 202, answer.content
    op = Operation.objects.get(pk=answer.json()["task"])
    assert answer.json() == {"id": owned_server.pk, "task": op.pk}
    assert op.kind == Operation.Kind.RESCUE_EXIT and op.requested_by == customer
    assert AuditEvent.objects.filter(action="operation.request.rescue_exit").exists()


def test_exit_takes_no_fields(owner_api, owned_server, customer):
    in_rescue(owned_server, customer)
    answer = owner_api.post(rescue_path(owned_server, "exit/"), {"now": True}, format="json")
    assert answer.status_code == 400


def test_exit_is_refused_when_not_in_rescue(owner_api, owned_server, customer):
    assert owner_api.post(rescue_path(owned_server, "exit/"), {}).status_code == 409
    started = services.start_rescue(actor=customer, server=owned_server, password=True)

    answer = owner_api.post(rescue_path(owned_server, "exit/"), {})

    assert answer.status_code == 409
    assert (
        f"still booting the rescue system (operation #{started.operation.pk})"
        in (answer.json()["detail"])
    )


def test_a_failed_rescue_boot_leaves_no_rescue(owned_server, customer):
    op = services.start_rescue(actor=customer, server=owned_server, password=True).operation

    rescue.abandon(op, driver_for(owned_server.bmc))  # its BMC (TEST-NET) does not answer

    session = RescueSession.objects.get(operation=op)
    assert session.ended_at is not None
    assert "did not come up" in session.end_reason
    assert "Could not set the boot device back to disk" in op.events.get().message


def test_the_time_limit_starts_the_exit_of_expired_rescues_only(owned_server, customer, admin):
    expired = in_rescue(owned_server, customer)
    RescueSession.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    in_rescue(make_server(actor=admin, owner=customer), customer)  # not yet

    started = services.end_expired_rescues()

    assert [op.server_id for op in started] == [owned_server.pk]
    assert started[0].kind == Operation.Kind.RESCUE_EXIT and started[0].requested_by is None
    assert services.end_expired_rescues() == []  # its exit is running


def test_a_staff_suspension_still_works_in_rescue(admin_api, owned_server, customer):
    in_rescue(owned_server, customer)
    connect_ports(owned_server)

    answer = admin_api.post(f"/api/v1/servers/{owned_server.pk}/suspend/", {"reason": "unpaid"})

    assert answer.status_code == 202


def test_the_rescue_boots_the_utility_image_in_rescue_mode_with_the_keys_and_hash(
    owned_server, customer, client
):
    hostile = ED25519.replace("alice@laptop", "alice's $(reboot) laptop")
    started = services.start_rescue(
        actor=customer, server=owned_server, ssh_keys=[hostile], password=True
    )
    op = started.operation
    Operation.objects.filter(pk=op.pk).update(state="running", step="wait_pxe")

    script = client.get("/boot/ipxe", {"mac": owned_server.mac}).content.decode()

    kernel = next(line for line in script.splitlines() if line.startswith("kernel "))
    assert kernel.split()[1] == "/boot/images/vmlinuz"  # the agent image, from the panel
    assert "metalpanel.mode=rescue" in kernel.split()
    secret = re.search(r"metalpanel\.script=\S+/boot/config/([\w-]+)", kernel)[1]
    config = client.get(f"/boot/config/{secret}").content.decode()
    assert config.startswith("#!/bin/sh\n")
    assert f"# Metalpanel rescue system on {owned_server.name}" in config
    assert f"printf '%s\\n' {shlex.quote(hostile)} >> /root/.ssh/authorized_keys" in config
    assert f"hash={shlex.quote(op.params['password_hash'])}\n" in config
    assert '"event=done&message=Rescue system ready: log in as root"' in config
    assert started.password not in script + config
    assert client.get(f"/boot/config/{secret}").status_code == 404  # fetched once


def test_without_a_password_root_gets_none(owned_server, customer, client):
    op = services.start_rescue(actor=customer, server=owned_server, ssh_keys=[ED25519]).operation
    Operation.objects.filter(pk=op.pk).update(state="running", step="wait_pxe")
    script = client.get("/boot/ipxe", {"mac": owned_server.mac}).content.decode()
    secret = re.search(r"/boot/config/([\w-]+)", script)[1]

    config = client.get(f"/boot/config/{secret}").content.decode()

    assert "hash=" not in config and "root:!:" in config
