"""The traffic panel on the customer's server page and the staff server page, and the chart's
static files (served by the panel, no CDN)."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from network.templatetags.traffic import rate, volume
from tests.network.traffic import feed

UPLOT = "/static/vendor/uplot-1.6.32/uPlot.iife.min.js"
CHART = "/static/traffic/traffic-chart.js"


@pytest.fixture
def fed(data_port, owned_server):
    """Three slots of 3,000 octets in this month."""
    now = timezone.now()
    month_start = datetime.combine(now.date().replace(day=1), time(), tzinfo=UTC)
    start = max(month_start, now.replace(second=0, microsecond=0) - timedelta(minutes=30))
    feed(data_port, [3000] * 3, [1000] * 3, start=start - timedelta(minutes=start.minute % 5))
    return owned_server


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_customers_server_page_has_the_month_and_the_chart(customer, fed):
    response = logged_in(customer).get(f"/servers/{fed.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    chart = re.search(r'<div id="traffic-chart"[^>]*data-url="([^"]+)"', content)
    assert chart and chart.group(1) == f"/api/v1/servers/{fed.pk}/traffic"
    assert "12.00 kB" in content  # 9,000 in + 3,000 out
    assert f'<script src="{UPLOT}">' in content and f'<script src="{CHART}">' in content
    assert "<script>" not in content  # no inline script: the CSP admits none


def test_the_staff_server_page_has_the_traffic_panel(admin, fed):
    response = logged_in(admin).get(f"/admin/inventory/server/{fed.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="traffic-chart"' in content and CHART in content
    assert "9.00 kB" in content


def test_the_panel_names_the_configured_slot_length(customer, fed, settings):
    page = logged_in(customer).get(f"/servers/{fed.pk}/").content.decode()
    assert "5-minute samples" in page and "Rates are 5-minute averages" in page
    settings.PANEL_TRAFFIC_POLL_SECONDS = 60  # the demo's
    page = logged_in(customer).get(f"/servers/{fed.pk}/").content.decode()
    assert "1-minute samples" in page


def test_a_server_without_traffic_says_so(customer, owned_server):
    response = logged_in(customer).get(f"/servers/{owned_server.pk}/")
    assert response.status_code == 200
    assert "No traffic recorded in" in response.content.decode()


def test_another_customer_cannot_open_the_page(other_customer, fed):
    assert logged_in(other_customer).get(f"/servers/{fed.pk}/").status_code == 404


@pytest.mark.parametrize("path", [UPLOT, CHART, "/static/vendor/uplot-1.6.32/uPlot.min.css"])
def test_the_chart_files_are_served_by_the_panel(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


def test_volumes_and_rates_read_in_decimal_units():
    assert (volume(999), volume(1_234_567_890), volume(None)) == ("999 B", "1.23 GB", "—")
    assert (rate(0), rate(12_345_678), rate(10**16)) == (
        "0 bit/s",
        "12.35 Mbit/s",
        "10000.00 Tbit/s",
    )


def test_a_new_owner_does_not_see_the_last_tenants_month(admin, other_customer, fed):
    from inventory import services

    services.release_owner(actor=admin, server=fed)
    services.assign_owner(actor=admin, server=fed, owner=other_customer)

    page = logged_in(other_customer).get(f"/servers/{fed.pk}/").content.decode()

    assert "12.00 kB" not in page and "No traffic recorded in" in page
    assert (
        "12.00 kB"
        in logged_in(admin).get(f"/admin/inventory/server/{fed.pk}/change/").content.decode()
    )
