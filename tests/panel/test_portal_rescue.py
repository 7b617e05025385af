"""The rescue system from the portal: the form, the one-time password shown once, the
server page while in rescue, and leaving it."""

import re

import pytest
from django.test import Client
from passlib.hash import sha512_crypt

from inventory import ipam
from panel.models import SshKey
from provisioning.models import Operation, RescueSession
from tests.factories import ED25519, FINGERPRINT, make_pool, make_server
from tests.panel.test_portal import page_text
from tests.provisioning.test_rescue_api import in_rescue

pytestmark = pytest.mark.usefixtures("shipped_os_templates")


@pytest.fixture
def browser(customer):
    client = Client()
    client.force_login(customer)
    return client


def visible_text(response) -> str:
    return re.sub(r"<[^>]+>", "", page_text(response))


def test_the_server_page_offers_the_rescue_system(browser, owned_server, customer):
    text = visible_text(browser.get(f"/servers/{owned_server.pk}/"))
    assert "Rescue system…" in text
    SshKey.objects.create(
        user=customer, name="laptop", public_key=ED25519, key_type="ssh-ed25519", fingerprint="x"
    )
    form = visible_text(browser.get(f"/servers/{owned_server.pk}/rescue/"))
    assert "Set a one-time root password" in form and "240 minutes at most" in form
    assert "Your saved SSH keys" in form and "laptop" in form


def test_entering_rescue_shows_the_one_time_password_once(browser, owned_server, customer):
    key = SshKey.objects.create(
        user=customer, name="laptop", public_key=ED25519, key_type="ssh-ed25519", fingerprint="x"
    )

    response = browser.post(
        f"/servers/{owned_server.pk}/rescue/", {"ssh_keys": [key.pk], "password": "on"}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = re.search(
        r'id="rescue-password" readonly value="([^"]+)"', response.content.decode()
    )[1]
    op = Operation.objects.get(server=owned_server, kind=Operation.Kind.RESCUE)
    assert sha512_crypt.verify(password, op.params["password_hash"])
    assert op.params["ssh_keys"] == [ED25519]
    assert f"/operations/{op.pk}/" in response.content.decode()
    for url in (f"/servers/{owned_server.pk}/", f"/operations/{op.pk}/"):
        assert password not in browser.get(url).content.decode()


def test_the_rescue_form_needs_keys_or_a_password(browser, owned_server):
    response = browser.post(f"/servers/{owned_server.pk}/rescue/", {})
    assert "Choose SSH keys, ask for a one-time password, or both." in page_text(response)
    pasted = browser.post(f"/servers/{owned_server.pk}/rescue/", {"ssh_key_texts": "ssh-rsa nope"})
    assert pasted.status_code == 200 and "is-invalid" in pasted.content.decode()
    assert not Operation.objects.exists()


def test_a_pasted_key_is_enough(browser, owned_server):
    response = browser.post(f"/servers/{owned_server.pk}/rescue/", {"ssh_key_texts": ED25519})
    assert response.status_code == 200, page_text(response)
    assert "rescue-password" not in response.content.decode()
    assert Operation.objects.get(kind=Operation.Kind.RESCUE).params["ssh_keys"] == [ED25519]


def test_the_server_page_in_rescue_says_how_to_log_in_and_offers_only_the_exit(
    browser, owned_server, customer, admin
):
    ipam.allocate_ip(actor=admin, server=owned_server, pool=make_pool())
    in_rescue(owned_server, customer, ssh_keys=[ED25519], password=True)

    text = visible_text(browser.get(f"/servers/{owned_server.pk}/"))

    assert "This server is in the rescue system" in text
    assert "ssh root@192.0.2.10 with alice@laptop" in text and FINGERPRINT in text
    assert "the one-time password you were shown" in text
    assert "Leave the rescue system" in text
    assert "Reinstall…" not in text and "Rescue system…" not in text
    panel = page_text(browser.get(f"/servers/{owned_server.pk}/power/"))
    assert "Power cycle" not in panel and "In the rescue system" in panel
    refused = browser.post(f"/servers/{owned_server.pk}/power/cycle/", follow=True)
    assert "is in the rescue system" in page_text(refused)


def test_leaving_the_rescue_system(browser, owned_server, customer):
    in_rescue(owned_server, customer)

    response = browser.post(f"/servers/{owned_server.pk}/rescue/exit/")

    op = Operation.objects.get(kind=Operation.Kind.RESCUE_EXIT)
    assert response.status_code == 302 and response["Location"] == f"/operations/{op.pk}/"
    again = browser.post(f"/servers/{owned_server.pk}/rescue/exit/", follow=True)
    assert "already has an active operation" in page_text(again)


def test_leaving_takes_a_logged_in_post_never_a_link(browser, owned_server, customer):
    """A GET (a link or an image on another site) never ends a customer's rescue."""
    in_rescue(owned_server, customer)
    path = f"/servers/{owned_server.pk}/rescue/exit/"

    assert browser.get(path).status_code == 405
    anonymous = Client().post(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert not Operation.objects.filter(kind=Operation.Kind.RESCUE_EXIT).exists()


def test_another_customers_server_has_no_rescue_pages(browser, admin, other_customer):
    theirs = make_server(actor=admin, owner=other_customer)
    assert browser.get(f"/servers/{theirs.pk}/rescue/").status_code == 404
    assert browser.post(f"/servers/{theirs.pk}/rescue/", {"password": "on"}).status_code == 404
    in_rescue(theirs, other_customer)
    assert browser.post(f"/servers/{theirs.pk}/rescue/exit/").status_code == 404
    assert RescueSession.objects.current().count() == 1
    assert not Operation.objects.filter(kind=Operation.Kind.RESCUE_EXIT).exists()


def test_without_saved_keys_the_form_offers_pasting_one(browser, owned_server):
    text = visible_text(browser.get(f"/servers/{owned_server.pk}/rescue/"))
    assert "Your saved SSH keys" not in text
    assert "You have no saved SSH keys." in text
