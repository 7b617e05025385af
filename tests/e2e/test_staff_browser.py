"""Staff's side of the panel in real Chromium: the Django admin against a live panel, a real
worker and a simlab machine that installs itself; then axe-core and the window's width on
the admin pages staff live in, light and dark. The README's staff screenshots come from here."""

import re

import pytest

from provisioning.models import Operation
from provisioning.simlab.machine import simlab_mac
from tests.e2e import browser
from tests.e2e.workers import wait_until
from tests.factories import ED25519, make_pool, make_profile

pytestmark = browser.BROWSER_TEST_MARKS
expect = browser.sync_api.expect if browser.sync_api else None


@pytest.fixture
def bare_machine(simlab, live_server):
    """A simlab machine not yet in the panel, powered on, its network boot pointed at it."""
    port = simlab.take_port()
    simlab.change(port, power="on", boot_url=live_server.url, install_seconds=2)
    yield port
    simlab.change(port, boot_url="")


def log_in_to_the_admin(page, email: str) -> None:
    page.goto("/admin/login/")
    page.get_by_label(re.compile("email", re.IGNORECASE)).fill(email)
    page.get_by_label("Password").fill(browser.PASSWORD)
    page.get_by_role("button", name="Log in").click()


def server_form(page, button: str):
    """The form on the server page whose button says `button`."""
    return page.locator("form.server-action", has=page.get_by_role("button", name=button))


def test_staff_enrol_assign_address_and_reinstall_a_server_then_follow_it_to_its_log(
    page, admin, customer, simlab, bare_machine, worker
):
    pool = make_pool()
    profile = make_profile()
    log_in_to_the_admin(page, admin.email)
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()

    page.goto("/admin/inventory/server/add/")
    page.locator("#id_name").fill("staff-web-01")
    page.locator("#id_profile").select_option(str(profile.pk))
    page.locator("#id_mac").fill(simlab_mac(bare_machine))
    page.locator("#id_bmc-0-address").fill("127.0.0.1")
    page.locator("#id_bmc-0-port").fill(str(bare_machine))
    page.locator("#id_bmc-0-username").fill(simlab.username)
    page.locator("#id_bmc-0-new_password").fill(simlab.password)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success")).to_contain_text("staff-web-01")
    messages = page.locator(".messagelist")

    server_form(page, "Assign to a customer").get_by_label("Customer").select_option(
        label=customer.email
    )
    page.get_by_role("button", name="Assign to a customer").click()
    expect(messages).to_contain_text(f"staff-web-01 assigned to {customer.email}.")
    expect(page.locator(".server-status")).to_contain_text(customer.email)

    page.get_by_role("link", name="Allocate an IP address…").click()
    page.get_by_label("IP pool").select_option(str(pool.pk))
    page.get_by_role("button", name="Allocate an IP address").click()
    expect(messages).to_contain_text("192.0.2.10 allocated to staff-web-01 (main).")
    expect(page.locator(".server-ips")).to_contain_text("192.0.2.10")

    page.get_by_role("link", name="Reinstall the OS (erases every disk)…").click()
    page.get_by_label("OS template").select_option(label="AlmaLinux 9")
    page.get_by_label("RAID").select_option("raid_1")
    page.get_by_label("Root password").fill("Correct-Horse-9")
    page.get_by_label("Other SSH public keys").fill(ED25519)
    page.get_by_role("button", name="Reinstall the OS (erases every disk)").click()
    expect(messages).to_contain_text("Reinstall started: operation #")
    operation = Operation.objects.get(server__name="staff-web-01", kind="install")

    page.get_by_role("link", name="Dashboard").click()
    running = page.locator(".dashboard-wide", has_text="Running and queued operations")
    running.get_by_role("link", name=f"#{operation.pk}", exact=True).click()
    expect(
        page.get_by_role("heading", level=2, name=re.compile(f"#{operation.pk}"))
    ).to_be_visible()

    def succeeded() -> bool:
        page.reload()
        return "Succeeded" in page.locator(".field-state").inner_text()

    wait_until(succeeded, timeout=90)
    events = page.locator("#events-group")
    expect(events).to_contain_text("The machine booted from the network")
    expect(events).to_contain_text("AlmaLinux 9 is installed; the server boots from its disk.")
    assert simlab.wait_for(bare_machine, os="AlmaLinux 9")["netboots"] == 1
    browser.shoot(page, "staff-operation-succeeded")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_staff_pages_pass_axe_and_fit_the_viewport(chromium, live_server, admin, customer, scheme):
    fleet = browser.sample_fleet(admin, customer)
    server = fleet.server.pk
    pages = [
        ("dashboard", "/admin/dashboard/"),
        ("servers", "/admin/inventory/server/"),
        ("server", f"/admin/inventory/server/{server}/change/"),
        ("reinstall", f"/admin/inventory/server/{server}/do/reinstall/"),
        ("operations", "/admin/provisioning/operation/"),
        ("operation", f"/admin/provisioning/operation/{fleet.install.pk}/change/"),
        ("operation-running", f"/admin/provisioning/operation/{fleet.running.pk}/change/"),
    ]
    problems = []
    for width, height in ((1280, 900), (390, 844)):
        with browser.open_page(chromium, live_server, width, height, color_scheme=scheme) as page:
            log_in_to_the_admin(page, admin.email)
            background = "#121212" if scheme == "dark" else "#fff"  # the admin's own dark mode
            body_bg = "getComputedStyle(document.documentElement).getPropertyValue('--body-bg')"
            assert page.evaluate(body_bg).strip() == background
            for name, url in pages:
                assert page.goto(url).status == 200, url
                problems.extend(browser.page_problems(page, name, width))
                if width == 1280 and name in {"dashboard", "servers", "server", "operation"}:
                    browser.shoot(page, f"staff-{name}-{scheme}", browser.DOCS_SCREENSHOTS)
    assert not problems, "\n".join(problems)
