"""The serial console in real Chromium: the page's xterm.js terminal over the panel's
WebSocket (daphne) to a simlab BMC's SOL. Its screenshot is the README's."""

import pytest

from inventory.models import Server
from tests.e2e.browser import DOCS_SCREENSHOTS, needs_chromium, open_page, page_problems, shoot
from tests.e2e.browser import sync_api as playwright
from tests.e2e.consoles import booted
from tests.e2e.test_portal_browser import log_in

pytestmark = [pytest.mark.e2e, needs_chromium, pytest.mark.django_db(transaction=True)]


def test_a_customer_opens_the_console_from_the_server_page_and_types_at_the_login_prompt(
    chromium, asgi_panel, simlab, lab_server, customer
):
    Server.objects.filter(pk=lab_server.pk).update(name="web-01", current_os="Debian 12")
    lab_server.refresh_from_db()
    booted(simlab, lab_server)
    with open_page(chromium, asgi_panel, width=1280, height=800) as page:
        log_in(page, customer.email)
        page.goto(f"/servers/{lab_server.pk}/")
        page.get_by_role("button", name="Console").click()
        status = page.locator("#console-status")
        playwright.expect(status).to_have_text("Connected to the serial console of web-01.")
        terminal = page.locator("#console .xterm-rows")
        playwright.expect(terminal).to_contain_text("Booting from the local disk: Debian 12")
        playwright.expect(terminal).to_contain_text("web-01 login:")
        page.locator("#console").click()
        page.keyboard.type("root")
        playwright.expect(terminal).to_contain_text("web-01 login: root")
        page.keyboard.press("Enter")
        playwright.expect(terminal.get_by_text("web-01 login:")).to_have_count(2)
        shoot(page, "portal-console", DOCS_SCREENSHOTS)
        problems = page_problems(page, "console", 1280)
        page.set_viewport_size({"width": 390, "height": 800})  # a phone: the terminal refits
        page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert problems + page_problems(page, "console", 390) == []
