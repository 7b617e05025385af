"""The customer portal through Django's test client: pages, forms, errors, visibility."""

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inventory import ipam
from panel import services as people
from panel.models import ApiToken, AuditEvent, SshKey
from provisioning.models import Operation, OsTemplate
from tests.factories import ED25519, FINGERPRINT, make_pool, make_server

PASSWORD = "a-long-test-password"


@pytest.fixture
def browser(customer):
    client = Client()
    client.force_login(customer)
    return client


def page_text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_login_shows_the_error_in_place_and_logs_in(client, customer):
    wrong = client.post("/login/", {"username": customer.email, "password": "nope"})
    assert wrong.status_code == 200
    assert "Please enter a correct email and password" in page_text(wrong)
    right = client.post("/login/", {"username": customer.email, "password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == "/servers/"


def test_logins_are_refused_after_repeated_failures(client, customer, settings):
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        client.post("/login/", {"username": customer.email, "password": "guess"})
    refused = client.post("/login/", {"username": customer.email, "password": PASSWORD})
    assert refused.status_code == 200
    assert "Too many failed logins" in page_text(refused)
    assert "_auth_user_id" not in client.session


def test_pages_need_a_login(client):
    for url in ("/servers/", "/keys/", "/tokens/", "/password/change/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_server_list_shows_only_mine_with_bounded_queries(
    browser, admin, customer, other_customer, django_assert_max_num_queries
):
    pool = make_pool()
    for n in range(30):
        server = make_server(actor=admin, owner=customer, name=f"web-{n:02d}")
        ipam.allocate_ip(actor=admin, server=server, pool=pool) if n < 5 else None
    make_server(actor=admin, owner=other_customer, name="not-mine")
    with django_assert_max_num_queries(8):
        response = browser.get("/servers/")
    text = page_text(response)
    assert "web-00" in text and "web-29" in text and "not-mine" not in text
    assert "192.0.2.10" in text
    found = page_text(browser.get("/servers/", {"q": "web-1"}))
    assert "web-15" in found and "web-25" not in found
    assert "No server matches" in page_text(browser.get("/servers/", {"power": "on"}))


def test_another_customers_things_are_404(browser, admin, other_customer):
    theirs = make_server(actor=admin, owner=other_customer)
    op = Operation.objects.create(server=theirs, kind="power_on", params={"action": "on"})
    key = SshKey.objects.create(
        user=other_customer, name="k", public_key=ED25519, key_type="ssh-ed25519", fingerprint="x"
    )
    for url in (
        f"/servers/{theirs.pk}/",
        f"/servers/{theirs.pk}/power/off/",
        f"/servers/{theirs.pk}/reinstall/",
        f"/operations/{op.pk}/",
        f"/operations/{op.pk}/live/",
    ):
        assert browser.get(url).status_code == 404, url
    assert browser.post(f"/servers/{theirs.pk}/power/on/").status_code == 404
    assert browser.post(f"/operations/{op.pk}/cancel/").status_code == 404
    assert browser.post(f"/keys/{key.pk}/delete/").status_code == 404
    assert not Operation.objects.filter(server=theirs, kind="power_on").exclude(pk=op.pk).exists()


def test_power_buttons(browser, owned_server):
    confirm = browser.get(f"/servers/{owned_server.pk}/power/off/")
    assert "Cuts the power at once" in page_text(confirm)
    response = browser.post(f"/servers/{owned_server.pk}/power/cycle/")
    op = Operation.objects.get(server=owned_server)
    assert response.status_code == 302 and response["Location"] == f"/operations/{op.pk}/"
    assert op.kind == "power_cycle" and op.requested_by.email == "owner@example.test"
    busy = browser.post(f"/servers/{owned_server.pk}/power/on/", follow=True)
    assert "already has an active operation" in page_text(busy)
    assert browser.get(f"/servers/{owned_server.pk}/power/dance/").status_code == 404


def test_reinstall_form_errors_in_place(browser, owned_server):
    alma = OsTemplate.objects.get(name="AlmaLinux 9")
    url = f"/servers/{owned_server.pk}/reinstall/"
    page = page_text(browser.get(url))
    assert "RAID 1 (mirror): survives a disk failure" in page and "RAID 5" not in page
    assert '<optgroup label="Kickstart' in page and "Utility image" not in page
    response = browser.post(
        url,
        {
            "os_template": alma.pk,
            "raid": "raid_5",
            "password": "password",
            "reboot": "auto",
            "confirm_name": "wrong",
        },
    )
    text = page_text(response)
    assert response.status_code == 200
    assert "Select a valid choice. raid_5 is not one of the available choices." in text
    assert f'Type "{owned_server.name}" exactly to confirm.' in text
    response = browser.post(
        url,
        {
            "os_template": alma.pk,
            "raid": "raid_1",
            "password": "password",
            "reboot": "auto",
            "confirm_name": owned_server.name,
        },
    )
    assert "This password is too common." in page_text(response)
    assert not Operation.objects.exists()


def test_reinstall_starts_the_install_and_shows_its_progress(browser, owned_server, customer):
    key = SshKey.objects.create(
        user=customer, name="laptop", public_key=ED25519, key_type="ssh-ed25519", fingerprint="x"
    )
    alma = OsTemplate.objects.get(name="AlmaLinux 9")
    response = browser.post(
        f"/servers/{owned_server.pk}/reinstall/",
        {
            "os_template": alma.pk,
            "raid": "raid_1",
            "ssh_keys": [key.pk],
            "reboot": "manual",
            "confirm_name": owned_server.name,
        },
    )
    op = Operation.objects.get(server=owned_server)
    assert response["Location"] == f"/operations/{op.pk}/"
    assert op.params["ssh_key_names"] == ["laptop"] and op.params["reboot"] == "manual"
    page = page_text(browser.get(f"/operations/{op.pk}/"))
    assert "OS installation · " in page and "Cancel this OS installation" in page
    live = page_text(browser.get(f"/operations/{op.pk}/live/"))
    assert "Queued" in live and "<html" not in live
    cancelled = browser.post(f"/operations/{op.pk}/cancel/", follow=True)
    assert "is being cancelled" in page_text(cancelled)
    op.refresh_from_db()
    assert op.state == "cancelled"
    assert "Cancel this" not in page_text(browser.get(f"/operations/{op.pk}/live/"))


def test_ssh_keys_page(browser, customer):
    bad = browser.post("/keys/", {"name": "x", "public_key": "ssh-rsa AAAA"})
    assert bad.status_code == 200 and "is-invalid" in bad.content.decode()
    added = browser.post("/keys/", {"name": "", "public_key": ED25519}, follow=True)
    assert 'Key "alice@laptop" saved.' in page_text(added)
    again = browser.post("/keys/", {"name": "other", "public_key": ED25519})
    assert "You have already saved this key." in page_text(again)
    key = SshKey.objects.get(user=customer)
    browser.post(f"/keys/{key.pk}/delete/")
    assert not SshKey.objects.filter(user=customer).exists()


def test_api_tokens_page_shows_a_new_token_once(browser, customer):
    bad = browser.post("/tokens/", {"name": "billing", "scope": "write", "allowed_cidrs": "nope"})
    assert '"nope" is not an IP network.' in page_text(bad)
    created = browser.post(
        "/tokens/",
        {"name": "billing", "scope": "read", "allowed_cidrs": "192.0.2.0/24", "expires_days": 30},
    )
    key = re.search(r'id="new-key" readonly value="([^"]+)"', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=customer)
    assert key.startswith(token.prefix + ".") and token.allowed_cidrs == ["192.0.2.0/24"]
    assert key not in browser.get("/tokens/").content.decode()
    browser.post(f"/tokens/{token.pk}/revoke/")
    assert not ApiToken.objects.filter(user=customer).exists()


def test_posts_need_the_csrf_token(customer, owned_server):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    assert client.post(f"/servers/{owned_server.pk}/power/on/").status_code == 403
    assert client.post("/keys/", {"public_key": ED25519}).status_code == 403


def test_changing_the_password_is_audited(browser, customer):
    response = browser.post(
        "/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "Another-long-pass-42",
            "new_password2": "Another-long-pass-42",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password("Another-long-pass-42")
    assert AuditEvent.objects.filter(action="user.update", detail__changed=["password"]).exists()


def test_password_reset_sends_a_working_link(client, customer, mailoutbox):
    client.post("/password/reset/", {"email": customer.email})
    link = re.search(r"http://testserver(/password/reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in page_text(form)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Brand-new-pass-77", "new_password2": "Brand-new-pass-77"},
    )
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password("Brand-new-pass-77")


JUNK = ["", " ", "x" * 5000, "\u202e\u0000'\"<script>", "-1", "99999999999999999999", "1.5"]


@pytest.mark.parametrize("junk", JUNK)
def test_nothing_a_customer_types_is_a_500(browser, owned_server, junk):
    server = owned_server.pk
    posts = {
        f"/servers/{server}/reinstall/": [
            "os_template",
            "raid",
            "password",
            "ssh_keys",
            "reboot",
            "confirm_name",
        ],
        "/keys/": ["name", "public_key"],
        "/tokens/": ["name", "scope", "allowed_cidrs", "expires_days"],
        "/password/change/": ["old_password", "new_password1", "new_password2"],
        "/login/": ["username", "password"],
    }
    for url, fields in posts.items():
        response = browser.post(url, {field: junk for field in fields})
        assert response.status_code in (200, 302), (url, response.status_code)
    for url in ("/servers/", f"/servers/{server}/power/{junk[:50]}/", "/operations/0/"):
        assert browser.get(url, {"q": junk, "power": junk, "page": junk}).status_code in (
            200,
            404,
        )


def test_a_suspended_server_shows_why_and_offers_no_actions(browser, owned_server):
    owned_server.suspended, owned_server.suspend_reason = True, "Invoice 1234 unpaid"
    owned_server.suspended_at = owned_server.created_at
    owned_server.save()

    text = re.sub(r"<[^>]+>", "", page_text(browser.get(f"/servers/{owned_server.pk}/")))

    assert "This server is suspended: Invoice 1234 unpaid." in text
    assert f"Since {owned_server.created_at:%Y-%m-%d %H:%M} UTC" in text
    assert "Reinstall…" not in text and "Power off…" not in text
    refused = browser.post(f"/servers/{owned_server.pk}/power/on/", follow=True)
    assert "is suspended (Invoice 1234 unpaid)" in page_text(refused)
    assert not Operation.objects.exists()


def power_buttons_offered(browser, server) -> set[str]:
    panel = page_text(browser.get(f"/servers/{server.pk}/power/"))
    labels = ("Power on", "Graceful shutdown…", "Power off…", "Reset…", "Power cycle…")
    return {label for label in labels if label in panel}


def test_only_the_power_buttons_that_fit_the_state_are_offered(browser, owned_server):
    bmc = owned_server.bmc
    assert len(power_buttons_offered(browser, owned_server)) == 5  # unknown: all of them
    bmc.power_state = "off"
    bmc.save()
    assert power_buttons_offered(browser, owned_server) == {"Power on"}
    bmc.power_state = "on"
    bmc.save()
    assert power_buttons_offered(browser, owned_server) == {
        "Graceful shutdown…",
        "Power off…",
        "Reset…",
        "Power cycle…",
    }


def test_the_server_page_refreshes_its_power_panel(browser, owned_server, other_customer):
    bmc = owned_server.bmc
    bmc.power_state, bmc.power_state_read_at = "on", timezone.now()
    bmc.save()
    page = browser.get(f"/servers/{owned_server.pk}/").content.decode()
    assert f'data-live-url="/servers/{owned_server.pk}/power/"' in page
    panel = page_text(browser.get(f"/servers/{owned_server.pk}/power/"))
    assert 'data-power-state="on"' in panel and "read just now" in panel
    bmc.power_state_read_at = timezone.now() - timedelta(minutes=3)
    bmc.save()
    assert "read 3 minutes ago" in page_text(browser.get(f"/servers/{owned_server.pk}/power/"))
    op = Operation.objects.create(server=owned_server, kind="power_off", state="running")
    busy = page_text(browser.get(f"/servers/{owned_server.pk}/power/"))
    assert f"/operations/{op.pk}/" in busy and "Power off in progress" in busy
    assert power_buttons_offered(browser, owned_server) == set()  # they would be refused
    stranger = Client()
    stranger.force_login(other_customer)
    assert stranger.get(f"/servers/{owned_server.pk}/power/").status_code == 404


def test_a_finished_install_shows_how_to_log_in(browser, admin, owned_server):
    ipam.allocate_ip(actor=admin, server=owned_server, pool=make_pool())
    params = {"os_name": "Debian 12", "ssh_keys": [ED25519], "ssh_key_names": ["alice@laptop"]}
    op = Operation.objects.create(server=owned_server, kind="install", params=params)
    assert "How to log in" not in page_text(browser.get(f"/operations/{op.pk}/"))
    Operation.objects.filter(pk=op.pk).update(state="succeeded")
    text = page_text(browser.get(f"/operations/{op.pk}/live/"))
    assert "ssh root@192.0.2.10" in text and FINGERPRINT in text and "(alice@laptop)" in text
    assert "The password you chose" not in text
    Operation.objects.filter(pk=op.pk).update(params={**params, "root_password": True})
    assert "The password you chose" in page_text(browser.get(f"/operations/{op.pk}/"))


def test_revoking_a_token_asks_first(browser, customer):
    token, _ = people.create_api_token(actor=customer, user=customer, name="billing")
    confirm = page_text(browser.get(f"/tokens/{token.pk}/revoke/"))
    assert "Revoke token billing?" in confirm and "lose access to the API at once" in confirm
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert "Revoke…" in page_text(browser.get("/tokens/"))


def test_mail_about_operations_can_be_turned_off(browser, customer):
    assert re.search(r"name=\"notify_by_email\"[^>]* checked", page_text(browser.get("/settings/")))
    response = browser.post("/settings/", {}, follow=True)
    assert "Settings saved." in page_text(response)
    customer.refresh_from_db()
    assert customer.notify_by_email is False
    assert AuditEvent.objects.filter(action="user.update", target_id=str(customer.pk)).exists()
    browser.post("/settings/", {"notify_by_email": "on"})
    customer.refresh_from_db()
    assert customer.notify_by_email is True
