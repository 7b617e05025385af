"""The portal in real Chromium (Debian's, driven by Playwright) against a live panel, a real
qcluster worker and simlab machines that really network-boot. Screenshots of each main page
go to artifacts/screenshots/, the light and dark ones the README shows to docs/screenshots/."""

import re

import pytest

from inventory import ipam
from panel import services as people
from provisioning.models import Operation
from tests.e2e.browser import (
    BROWSER_TEST_MARKS,
    DOCS_SCREENSHOTS,
    PASSWORD,
    open_page,
    page_problems,
    sample_fleet,
    shoot,
    sync_api,
)
from tests.factories import ED25519, FINGERPRINT, make_pool, make_server

pytestmark = BROWSER_TEST_MARKS


@pytest.fixture
def machine(simlab, lab_server, live_server):
    simlab.change(lab_server.lab_port, power="on", boot_url=live_server.url, install_seconds=2)
    yield lab_server.lab_port
    simlab.change(lab_server.lab_port, boot_url="")


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def wait_for_state(page, state: str, timeout: float = 60_000) -> None:
    page.locator("#live .badge", has_text=state).wait_for(timeout=timeout)


def test_staff_pages_and_the_api_docs_run_under_the_content_security_policy(page, admin):
    server = make_server(actor=admin, name="csp-check-01")
    log_in(page, admin.email)
    for url in (
        "/admin/",
        "/admin/dashboard/",
        "/admin/inventory/server/",
        f"/admin/inventory/server/{server.pk}/change/",
    ):
        assert page.goto(url).status == 200
    page.goto("/api/docs/")
    sync_api.expect(page.get_by_role("heading", name=re.compile("Metalpanel API"))).to_be_visible()
    shoot(page, "api-docs")


def test_a_wrong_password_shows_the_error(page, customer):
    log_in(page, customer.email, "not-the-password")
    sync_api.expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct email and password"
    )
    shoot(page, "login-error")


def test_power_cycle_then_reinstall_with_an_ssh_key(
    page, customer, lab_server, simlab, machine, worker
):
    log_in(page, customer.email)
    sync_api.expect(page.get_by_role("heading", name="Your servers")).to_be_visible()
    shoot(page, "server-list")

    page.get_by_role("link", name=lab_server.name).click()
    shoot(page, "server-detail")
    page.get_by_role("link", name="Power cycle…").click()
    page.get_by_role("button", name=f"Power cycle {lab_server.name}").click()
    wait_for_state(page, "Succeeded")
    assert simlab.machine(machine)["power_on_count"] >= 1

    simlab.change(machine, install_seconds=8)  # long enough to see it mid-way
    page.get_by_role("link", name="SSH keys").click()
    page.get_by_label("Public key").fill(ED25519)
    page.get_by_role("button", name="Add key").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text('Key "alice@laptop" saved.')
    shoot(page, "ssh-keys")

    page.goto(f"/servers/{lab_server.pk}/reinstall/")
    page.get_by_label("Operating system").select_option(label="AlmaLinux 9")
    page.get_by_label("RAID 1 (mirror): survives a disk failure").check()
    page.get_by_label(re.compile("alice@laptop")).check()
    page.get_by_label("Type the server's name to confirm").fill(lab_server.name)
    shoot(page, "reinstall-wizard")
    page.get_by_role("button", name=f"Erase and reinstall {lab_server.name}").click()
    page.locator("#live", has_text="Installer: Installer started").wait_for(timeout=60_000)
    shoot(page, "install-progress")
    wait_for_state(page, "Succeeded", timeout=90_000)
    sync_api.expect(page.locator("#live")).to_contain_text("AlmaLinux 9 is installed")
    shoot(page, "install-succeeded")
    assert simlab.wait_for(machine, os="AlmaLinux 9")["netboots"] == 1


def test_a_customer_cancels_an_install(page, customer, lab_server, machine, worker):
    log_in(page, customer.email)
    page.goto(f"/servers/{lab_server.pk}/reinstall/")
    page.get_by_label("Operating system").select_option(label="Debian 12")
    page.get_by_label("Root password").fill("Correct-Horse-9")
    page.get_by_label("I will reboot it myself").check()
    page.get_by_label("Type the server's name to confirm").fill(lab_server.name)
    page.get_by_role("button", name=f"Erase and reinstall {lab_server.name}").click()
    page.locator("#live", has_text="Waiting for you to reboot it").wait_for(timeout=60_000)
    page.get_by_role("button", name=re.compile("Cancel this")).click()
    wait_for_state(page, "Cancelled")
    shoot(page, "install-cancelled")
    op = Operation.objects.get(server=lab_server, kind="install")
    assert op.state == "cancelled"


def test_another_customers_server_is_not_found(page, customer, admin, other_customer):
    theirs = make_server(actor=admin, owner=other_customer, name="someone-elses")
    log_in(page, customer.email)
    response = page.goto(f"/servers/{theirs.pk}/")
    assert response.status == 404
    sync_api.expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert "someone-elses" not in page.content()
    assert len(page.console_errors) == 1 and "404" in page.console_errors[0]
    page.console_errors.clear()  # the one error this test expects


def test_pages_fit_a_phone_and_start_with_a_skip_link(page, customer, admin):
    server = make_server(actor=admin, owner=customer, name="phone-web-01")
    make_server(actor=admin, owner=customer, name="phone-db-02")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, customer.email)
    for name, url in (
        ("servers", "/servers/"),
        ("server", f"/servers/{server.pk}/"),
        ("reinstall", f"/servers/{server.pk}/reinstall/"),
        ("tokens", "/tokens/"),
    ):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} is {overflow}px wider than a phone"
        shoot(page, f"phone-{name}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"


def test_power_off_then_on_with_the_live_state_then_reinstall_and_read_the_login_by_mail(
    page, admin, customer, lab_server, simlab, machine, worker, smtp_server
):
    ipam.allocate_ip(actor=admin, server=lab_server, pool=make_pool())
    log_in(page, customer.email)
    page.goto(f"/servers/{lab_server.pk}/")
    page.get_by_role("link", name="Power off…").click()  # the state is unknown: all are offered
    page.get_by_role("button", name=f"Power off {lab_server.name}").click()
    wait_for_state(page, "Succeeded")
    page.get_by_role("link", name=lab_server.name, exact=True).click()
    power = page.locator("#power-live")
    sync_api.expect(power.locator("[data-power-state]")).to_have_attribute(
        "data-power-state", "off"
    )
    sync_api.expect(power).to_contain_text("read just now")
    sync_api.expect(power.get_by_role("link", name="Power off…")).to_have_count(0)

    # A second tab on the server page sees the state change without being reloaded.
    watcher = page.context.new_page()
    watcher.goto(f"/servers/{lab_server.pk}/")
    watched = watcher.locator("#power-live")
    power.get_by_role("button", name="Power on").click()
    wait_for_state(page, "Succeeded")
    sync_api.expect(watched.locator("[data-power-state]")).to_have_attribute(
        "data-power-state", "on", timeout=10_000
    )
    sync_api.expect(watched.get_by_role("button", name="Power on")).to_have_count(0)
    sync_api.expect(watched.get_by_role("link", name="Power off…")).to_be_visible()
    watcher.close()

    people.add_ssh_key(actor=customer, public_key=ED25519)
    page.goto(f"/servers/{lab_server.pk}/reinstall/")
    page.get_by_label("Operating system").select_option(label="Debian 12")
    page.get_by_label("Root password").fill("Correct-Horse-9")
    page.get_by_label(re.compile("alice@laptop")).check()
    page.get_by_label("Type the server's name to confirm").fill(lab_server.name)
    page.get_by_role("button", name=f"Erase and reinstall {lab_server.name}").click()
    wait_for_state(page, "Succeeded", timeout=90_000)
    login = page.get_by_role("region", name="How to log in")
    sync_api.expect(login).to_contain_text("ssh root@192.0.2.10")
    sync_api.expect(login).to_contain_text(FINGERPRINT)
    sync_api.expect(login).to_contain_text("The password you chose")
    shoot(page, "install-login-details")
    page.get_by_role("link", name=lab_server.name, exact=True).click()
    sync_api.expect(page.locator("#power-live [data-power-state]")).to_have_attribute(
        "data-power-state", "on"
    )

    mails = smtp_server.mailbox.wait_for(3)
    assert [mail["Subject"] for mail in mails] == [
        f"Power off · {lab_server.name}: succeeded",
        f"Power on · {lab_server.name}: succeeded",
        f"OS installation · {lab_server.name}: succeeded",
    ]
    assert all(mail["To"] == customer.email for mail in mails)
    body = mails[2].get_content()
    assert "ssh root@192.0.2.10" in body and FINGERPRINT in body
    assert "Password: the password you chose" in body


def portal_pages(admin, customer) -> list[tuple[str, str]]:
    """Every kind of portal page, with something on it: (name, URL)."""
    fleet = sample_fleet(admin, customer)
    server, busy = fleet.server.pk, fleet.busy.pk
    return [
        ("servers", "/servers/"),
        ("server", f"/servers/{server}/"),
        ("power-confirm", f"/servers/{server}/power/off/"),
        ("reinstall", f"/servers/{server}/reinstall/"),
        ("rescue", f"/servers/{server}/rescue/"),
        ("operation", f"/operations/{fleet.install.pk}/"),
        ("operation-running", f"/operations/{fleet.running.pk}/"),
        ("server-busy", f"/servers/{busy}/"),
        ("keys", "/keys/"),
        ("tokens", "/tokens/"),
        ("token-revoke", f"/tokens/{fleet.token.pk}/revoke/"),
        ("settings", "/settings/"),
        ("password", "/password/change/"),
    ]


SHOWN_IN_README = {"servers", "server", "operation", "keys"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_portal_page_passes_axe_and_fits_the_viewport(
    chromium, live_server, admin, customer, scheme
):
    pages = portal_pages(admin, customer)
    problems = []

    def check(page, name: str, width: int) -> None:
        assert page.evaluate("document.documentElement.dataset.bsTheme") == scheme
        problems.extend(page_problems(page, name, width))

    for width, height in ((1280, 900), (390, 844)):
        with open_page(
            chromium,
            live_server,
            width,
            height,
            color_scheme=scheme,
            permissions=["clipboard-read", "clipboard-write"],
        ) as page:
            page.goto("/login/")
            check(page, "login", width)
            log_in(page, customer.email)
            for name, url in pages:
                assert page.goto(url).status == 200, url
                check(page, name, width)
                if width == 1280 and name in SHOWN_IN_README:
                    shoot(page, f"portal-{name}-{scheme}", DOCS_SCREENSHOTS)
            if width == 390:
                page.goto("/servers/")
                row = page.get_by_role("row", name=re.compile("web-01"))
                sync_api.expect(row).to_contain_text("192.0.2.10")
                sync_api.expect(row).to_contain_text("On")
                shoot(page, f"portal-phone-servers-{scheme}", DOCS_SCREENSHOTS)
            page.goto("/keys/")
            delete = page.get_by_role("button", name="Delete key alice@laptop")
            sync_api.expect(delete).to_be_in_viewport()
            page.goto("/tokens/")
            page.get_by_label("Name").fill("automation")
            page.get_by_role("button", name="Create token").click()
            sync_api.expect(page.get_by_label("New API token")).to_be_visible()
            check(page, "new-token", width)
            page.get_by_role("button", name="Copy").click()
            sync_api.expect(page.get_by_role("button", name="Copied")).to_be_visible()
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == page.get_by_label("New API token").input_value()
    assert not problems, "\n".join(problems)
