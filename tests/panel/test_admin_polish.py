"""The staff admin's finish: clickable dashboard counts and operations, names people read,
one date format, a favicon."""

import re
from datetime import UTC, datetime

from django.contrib.staticfiles import finders

from inventory.models import Bmc, Server
from provisioning.models import Operation
from tests.factories import make_server


def test_every_dashboard_link_opens_a_list_that_accepts_its_filter(
    staff, admin, customer, django_assert_max_num_queries
):
    for n in range(3):
        make_server(actor=admin, owner=customer if n == 0 else None)
    server = Server.objects.first()
    failed = Operation.objects.create(server=server, kind="power_on", state="failed", error="no")
    Bmc.objects.filter(server=server).update(reachable=False)
    with django_assert_max_num_queries(15):
        page = staff.get("/admin/dashboard/").content.decode()
    assert f'<a href="/admin/provisioning/operation/{failed.pk}/change/">#{failed.pk}</a>' in page
    links = set(re.findall(r'href="(/admin/[^"]+\?[^"]+)"', page))
    assert "/admin/inventory/server/?state__exact=ready" in links
    assert "/admin/provisioning/operation/?state__exact=failed" in links
    for link in links:
        response = staff.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link  # a refused filter redirects to ?e=1
    ready = staff.get("/admin/inventory/server/?state__exact=ready")
    assert ready.context["cl"].result_count == 3


def test_admin_names_read_as_english(staff):
    index = staff.get("/admin/").content.decode()
    assert "IP addresses" in index and "IP addresss" not in index
    assert "Configurations" in index and "(configuration)s" not in index
    assert "Task queue (internal, django-q2)" in index
    assert index.index("Provisioning and power") < index.index("Task queue (internal")
    assert "Operations" in index and "Boot tickets" in index and "OS templates" in index


def test_admin_dates_are_written_one_way(staff, admin):
    seen = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    Bmc.objects.filter(server=make_server(actor=admin)).update(last_seen=seen)
    assert "2026-03-04 05:06" in staff.get("/admin/inventory/bmc/").content.decode()


def test_the_favicon_is_served(client, staff):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg")
    assert 'href="/static/favicon.svg"' in staff.get("/admin/").content.decode()
