"""Mail when an operation ends, received by a real SMTP server on loopback (aiosmtpd)."""

import logging

import pytest
from django_q.conf import Conf

from inventory import ipam
from panel import services as people
from provisioning import notifications, services
from provisioning.models import Operation
from provisioning.tasks import run_operation
from tests.factories import ED25519, FINGERPRINT, make_pool, make_server


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """django-q2 runs a queued task at once, in this process (its own sync mode)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def finished_install(server, **params) -> Operation:
    return Operation.objects.create(
        server=server,
        kind=Operation.Kind.INSTALL,
        state=Operation.State.SUCCEEDED,
        params={"os_name": "Debian 12", "ssh_keys": [], "ssh_key_names": [], **params},
    )


def test_a_power_operation_that_ends_mails_the_owner_after_commit(
    owner_api,
    customer,
    lab_server,
    simlab,
    smtp_server,
    tasks_run_inline,
    django_capture_on_commit_callbacks,
):
    simlab.change(lab_server.lab_port, power="off")
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/power/", {"action": "on"}, format="json"
    )
    with django_capture_on_commit_callbacks(execute=True) as queued:
        run_operation(response.json()["task"])
        assert smtp_server.mailbox.messages == []  # nothing is sent before the commit
    assert queued
    (mail,) = smtp_server.mailbox.wait_for(1)
    assert mail["To"] == customer.email and mail["X-Envelope-To"] == customer.email
    assert mail["Subject"] == f"Power on · {lab_server.name}: succeeded"
    body = mail.get_content()
    assert (
        f"{lab_server.name}: the power on (operation #{response.json()['task']}) succeeded" in body
    )
    assert "How to log in" not in body


def test_a_finished_install_mail_tells_how_to_log_in(admin, customer, smtp_server, settings):
    settings.PANEL_PORTAL_URL = "https://panel.example.test"
    server = make_server(actor=admin, owner=customer, name="web-01")
    ipam.allocate_ip(actor=admin, server=server, pool=make_pool())
    op = finished_install(
        server, ssh_keys=[ED25519], ssh_key_names=["alice@laptop"], root_password=True
    )
    assert notifications.send(op.pk) == 1
    body = smtp_server.mailbox.wait_for(1)[0].get_content()
    assert "ssh root@192.0.2.10" in body
    assert f"Key: {FINGERPRINT} (alice@laptop)" in body
    assert "Password: the password you chose" in body
    assert f"https://panel.example.test/operations/{op.pk}/" in body


def test_a_failed_install_says_why_and_gives_no_login(admin, customer, smtp_server):
    server = make_server(actor=admin, owner=customer)
    op = finished_install(server)
    Operation.objects.filter(pk=op.pk).update(state="failed", error="The disks are gone.")
    notifications.send(op.pk)
    body = smtp_server.mailbox.wait_for(1)[0].get_content()
    assert "failed" in body and "The disks are gone." in body and "How to log in" not in body


def test_nobody_is_mailed_who_turned_it_off(admin, customer, smtp_server):
    people.update_user(actor=customer, user=customer, notify_by_email=False)
    op = finished_install(make_server(actor=admin, owner=customer))
    assert notifications.send(op.pk) == 0
    assert smtp_server.mailbox.messages == []


def test_a_server_nobody_owns_mails_whoever_asked(admin, smtp_server):
    op = finished_install(make_server(actor=admin))
    Operation.objects.filter(pk=op.pk).update(requested_by=admin)
    assert notifications.send(op.pk) == 1
    assert smtp_server.mailbox.wait_for(1)[0]["To"] == admin.email


def test_a_mail_server_that_refuses_is_logged_not_raised(admin, customer, settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    op = finished_install(make_server(actor=admin, owner=customer))
    with caplog.at_level(logging.ERROR, logger="provisioning.notifications"):
        assert notifications.send(op.pk) == 0
    assert f"Could not mail ['{customer.email}'] about operation {op.pk}" in caplog.text


def test_an_operation_cancelled_before_it_started_is_mailed_too(
    owner_api,
    customer,
    lab_server,
    smtp_server,
    tasks_run_inline,
    django_capture_on_commit_callbacks,
):
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/power/", {"action": "on"}, format="json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_operation(
            actor=customer, operation=Operation.objects.get(pk=response.json()["task"])
        )
    (mail,) = smtp_server.mailbox.wait_for(1)
    assert mail["Subject"] == f"Power on · {lab_server.name}: cancelled"
    assert "was cancelled" in mail.get_content()
