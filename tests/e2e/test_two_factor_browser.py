"""Two-factor login in real Chromium: a customer sets up an authenticator app by reading the
secret off the enrolment page, logs out, and logs in again with a code (pyotp standing in for
the app). The enrolment and code pages go to docs/screenshots/ for the README."""

import time

import pyotp

from tests.e2e.browser import BROWSER_TEST_MARKS, DOCS_SCREENSHOTS, page_problems, shoot, sync_api
from tests.e2e.test_portal_browser import log_in

pytestmark = BROWSER_TEST_MARKS


def test_a_customer_enrols_an_authenticator_app_then_logs_in_with_a_code(page, customer):
    log_in(page, customer.email)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Set up or turn off two-factor login").click()
    page.get_by_role("link", name="Set up two-factor login").click()

    sync_api.expect(page.locator("svg.segno")).to_be_visible()  # the QR code
    app = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
    assert not page_problems(page, "two-factor enrolment", 1280)
    shoot(page, "two-factor-enrol", DOCS_SCREENSHOTS)
    page.get_by_label("Code from the app").fill(app.now())
    page.get_by_role("button", name="Turn on two-factor login").click()
    sync_api.expect(page.get_by_role("heading", name="Two-factor login is on")).to_be_visible()
    assert page.locator("#recovery-codes li").count() == 10

    page.get_by_role("button", name="Log out").click()
    log_in(page, customer.email)
    sync_api.expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    assert not page_problems(page, "two-factor login", 1280)
    shoot(page, "two-factor-login", DOCS_SCREENSHOTS)
    # The code used to enrol is spent: the app's next one, which it shows within 30 seconds.
    page.get_by_label("Code").fill(app.at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    sync_api.expect(page.get_by_role("heading", name="Your servers")).to_be_visible()
