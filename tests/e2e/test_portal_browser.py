"""The portal in real Chromium (Debian's, driven by Playwright) against a live panel, a real
qcluster worker and simlab machines that really network-boot. Screenshots of each main page
go to artifacts/screenshots/ (the README shows some of them)."""

import os
import re
import shutil
from pathlib import Path

import pytest

from provisioning.models import Operation
from tests.e2e.workers import Qcluster
from tests.factories import ED25519, make_server

# Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
# between page actions are ordinary blocking calls, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "a-long-test-password"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium: .ci/run"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]


@pytest.fixture(scope="module")
def chromium():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A page of a fresh context; the test fails if the page logged an error (a script error,
    or anything the Content-Security-Policy refused)."""
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = []
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and errors.append(f"{message.text} ({message.location.get('url')})")
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def machine(simlab, lab_server, live_server):
    simlab.change(lab_server.lab_port, power="on", boot_url=live_server.url, install_seconds=2)
    yield lab_server.lab_port
    simlab.change(lab_server.lab_port, boot_url="")


@pytest.fixture
def worker():
    cluster = Qcluster(PANEL_BMC_TIMEOUT=3, PANEL_POWER_CONFIRM_SECONDS=10)
    yield cluster
    cluster.kill()  # the test is over; a graceful stop takes django-q2 up to 20 s


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


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
