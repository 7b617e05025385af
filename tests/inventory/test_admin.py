import pytest
from django.urls import reverse

from inventory import ipam
from inventory.models import Bmc, Server
from panel.models import AuditEvent
from tests.factories import make_pool, make_server

MODELS = [
    "panel.user",
    "panel.sshkey",
    "panel.apitoken",
    "panel.auditevent",
    "inventory.location",
    "inventory.rack",
    "inventory.hardwareprofile",
    "inventory.server",
    "inventory.bmc",
    "inventory.switchport",
    "inventory.network",
    "inventory.ippool",
    "inventory.ipaddress",
]


@pytest.fixture
def staff_browser(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def populated(admin, customer):
    pool = make_pool(first="192.0.2.10", last="192.0.2.60")
    for _ in range(12):
        ipam.allocate_ip(actor=admin, server=make_server(owner=customer), pool=pool)


@pytest.mark.parametrize("model", MODELS)
def test_every_admin_list_renders_in_bounded_queries(
    staff_browser, populated, model, django_assert_max_num_queries
):
    app, name = model.split(".")
    with django_assert_max_num_queries(12):
        response = staff_browser.get(reverse(f"admin:{app}_{name}_changelist"))
    assert response.status_code == 200


def test_customers_cannot_open_the_admin(client, customer):
    client.force_login(customer)
    response = client.get(reverse("admin:inventory_server_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_server_page_never_shows_the_bmc_password(staff_browser, free_server):
    response = staff_browser.get(reverse("admin:inventory_server_change", args=[free_server.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "bmc-secret" not in html
    assert free_server.bmc.password_encrypted not in html
    assert 'name="bmc-0-new_password"' in html


def test_staff_enrol_a_server_with_its_bmc_in_the_admin(staff_browser):
    profile_id = make_server().profile_id
    response = staff_browser.post(
        reverse("admin:inventory_server_add"),
        {
            "name": "admin-enrolled",
            "profile": profile_id,
            "state": "ready",
            "facts": "{}",
            "bmc-TOTAL_FORMS": "1",
            "bmc-INITIAL_FORMS": "0",
            "bmc-MIN_NUM_FORMS": "0",
            "bmc-MAX_NUM_FORMS": "1",
            "bmc-0-address": "10.9.9.9",
            "bmc-0-port": "623",
            "bmc-0-username": "ADMIN",
            "bmc-0-new_password": "typed-once",
            "ip_addresses-TOTAL_FORMS": "0",
            "ip_addresses-INITIAL_FORMS": "0",
            "ip_addresses-MIN_NUM_FORMS": "0",
            "ip_addresses-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    bmc = Bmc.objects.get(server__name="admin-enrolled")
    assert bmc.reveal_password() == "typed-once"
    assert AuditEvent.objects.filter(action="server.create", target_repr="admin-enrolled").exists()
    assert AuditEvent.objects.filter(action="bmc.create").exists()


def test_a_new_bmc_without_a_password_is_a_form_error(staff_browser):
    profile_id = make_server().profile_id
    response = staff_browser.post(
        reverse("admin:inventory_server_add"),
        {
            "name": "no-password",
            "profile": profile_id,
            "state": "ready",
            "facts": "{}",
            "bmc-TOTAL_FORMS": "1",
            "bmc-INITIAL_FORMS": "0",
            "bmc-MIN_NUM_FORMS": "0",
            "bmc-MAX_NUM_FORMS": "1",
            "bmc-0-address": "10.9.9.9",
            "bmc-0-port": "623",
            "bmc-0-username": "ADMIN",
            "ip_addresses-TOTAL_FORMS": "0",
            "ip_addresses-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "A new BMC needs its password." in response.content.decode()
    assert not Server.objects.filter(name="no-password").exists()
