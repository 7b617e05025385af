"""One login throttle for every surface that takes a password: the portal and the admin."""

import pytest

from panel.models import FailedLogin
from tests.factories import make_user

PASSWORD = "a-long-test-password"
PORTAL, ADMIN = "/login/", "/admin/login/"


@pytest.fixture
def staff(db):
    return make_user("admin", email="root@example.test")


def attempt(client, url: str, email: str, password: str):
    return client.post(url, {"username": email, "password": password, "next": "/admin/"})


def test_the_admin_login_is_throttled_like_the_portal(client, staff, settings):
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 5
    for _ in range(8):
        assert attempt(client, ADMIN, staff.email, "guess").status_code == 200
    refused = attempt(client, ADMIN, staff.email, PASSWORD)
    assert refused.status_code == 200
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_on_one_surface_count_on_the_other(client, staff, settings):
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 4
    for url in (PORTAL, ADMIN, PORTAL, ADMIN):
        attempt(client, url, staff.email, "guess")
    assert FailedLogin.objects.filter(email=staff.email).count() == 4
    for url in (PORTAL, ADMIN):
        refused = attempt(client, url, staff.email, PASSWORD)
        assert "Too many failed logins" in refused.content.decode()
        assert "_auth_user_id" not in client.session


def test_the_throttle_by_address_spans_accounts_and_surfaces(client, staff, settings):
    settings.PANEL_LOGIN_FAILURES_PER_IP = 3
    for number, url in enumerate((PORTAL, ADMIN, PORTAL)):
        attempt(client, url, f"nobody{number}@example.test", "guess")
    refused = attempt(client, ADMIN, staff.email, PASSWORD)
    assert "Too many failed logins" in refused.content.decode()


def test_a_staff_login_below_the_limit_works_and_clears_failures(client, staff):
    attempt(client, ADMIN, staff.email, "guess")
    assert attempt(client, ADMIN, staff.email, PASSWORD).status_code == 302
    assert not FailedLogin.objects.filter(email=staff.email).exists()
