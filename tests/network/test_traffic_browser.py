"""The traffic chart in real Chromium: drawn from the API by the static script under the
Content-Security-Policy (the `page` fixture fails the test on any console error)."""

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Server
from tests.e2e.browser import needs_chromium, shoot, sync_api
from tests.e2e.test_portal_browser import log_in
from tests.network.traffic import feed, make_port

pytestmark = [pytest.mark.e2e, needs_chromium, pytest.mark.django_db(transaction=True)]


def test_the_chart_draws_the_last_day_on_the_customer_and_staff_pages(
    page,
    admin,
    customer,
    owned_server,
):
    now = timezone.now().replace(second=0, microsecond=0)
    Server.objects.filter(pk=owned_server.pk).update(owner_since=now - timedelta(days=30))
    start = now - timedelta(hours=6, minutes=now.minute % 5)
    wave = [int(4e8 * (1.2 + math.sin(n / 8))) for n in range(70)]
    feed(make_port(owned_server), wave, [octets // 4 for octets in wave], start=start)

    log_in(page, customer.email)
    page.goto(f"/servers/{owned_server.pk}/")
    chart = page.locator("#traffic-chart")
    sync_api.expect(chart.locator("canvas")).to_be_visible()
    sync_api.expect(chart).to_have_attribute("data-points", "288")
    page.get_by_role("button", name="7 days").click()
    sync_api.expect(chart).to_have_attribute("data-points", "2016")
    page.get_by_role("button", name="24 h").click()
    sync_api.expect(chart).to_have_attribute("data-points", "288")
    chart.scroll_into_view_if_needed()
    shoot(page, "traffic-portal")

    page.context.clear_cookies()
    log_in(page, admin.email)
    page.goto(f"/admin/inventory/server/{owned_server.pk}/change/")
    sync_api.expect(page.locator("#traffic-chart canvas")).to_be_visible()
    shoot(page, "traffic-admin")


def test_a_server_without_traffic_says_so_and_draws_no_empty_chart(page, customer, owned_server):
    log_in(page, customer.email)
    page.goto(f"/servers/{owned_server.pk}/")
    chart = page.locator("#traffic-chart")
    sync_api.expect(chart.locator(".traffic-status")).to_have_text(
        "No traffic recorded in this range yet."
    )
    sync_api.expect(chart.locator("canvas")).to_be_hidden()
