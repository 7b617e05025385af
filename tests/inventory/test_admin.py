import pytest
from django.urls import reverse

from inventory import ipam
from inventory.models import Bmc, Pdu, PduOutlet, Server, Switch, SwitchPort
from panel.models import AuditEvent
from tests.factories import NO_CONNECTION_ROWS, make_pdu, make_pool, make_server, make_switch

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
    "inventory.switch",
    "inventory.switchport",
    "inventory.pdu",
    "inventory.pduoutlet",
    "inventory.network",
    "inventory.ippool",
    "inventory.ipaddress",
    "provisioning.operation",
    "provisioning.ostemplate",
    "provisioning.bootticket",
]


@pytest.fixture
def staff_browser(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def populated(admin, customer):
    pool = make_pool(first="192.0.2.10", last="192.0.2.60")
    switches, pdus = [make_switch() for _ in range(3)], [make_pdu() for _ in range(3)]
    for n in range(12):
        server = make_server(owner=customer)
        ipam.allocate_ip(actor=admin, server=server, pool=pool)
        SwitchPort.objects.create(switch=switches[n % 3], name=f"Gi1/0/{n}", server=server)
        PduOutlet.objects.create(pdu=pdus[n % 3], number=n + 1, server=server)


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
            **NO_CONNECTION_ROWS,
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
            **NO_CONNECTION_ROWS,
        },
    )
    assert response.status_code == 200
    assert "A new BMC needs its password." in response.content.decode()
    assert not Server.objects.filter(name="no-password").exists()


SWITCH_FORM = {
    "name": "sw-admin",
    "address": "192.0.2.77",
    "port": "161",
    "snmp_version": "2c",
    "community": "typed-community",
    "drift_policy": "record",
    "notes": "",
}


def test_staff_add_a_switch_whose_community_is_stored_encrypted(staff_browser):
    response = staff_browser.post(reverse("admin:inventory_switch_add"), SWITCH_FORM)
    assert response.status_code == 302, response.content.decode()[:3000]
    switch = Switch.objects.get(name="sw-admin")
    assert "typed-community" not in switch.community_encrypted
    assert switch.reveal_secret("community") == "typed-community"
    event = AuditEvent.objects.get(action="switch.create")
    assert "typed-community" not in str(event.detail)
    page = staff_browser.get(reverse("admin:inventory_switch_change", args=[switch.pk]))
    html = page.content.decode()
    assert "typed-community" not in html and switch.community_encrypted not in html
    assert 'name="community"' in html and 'name="clear_community"' in html
    listing = staff_browser.get(reverse("admin:inventory_switch_changelist")).content.decode()
    assert "192.0.2.77:161" in listing and "typed-community" not in listing


def test_an_empty_secret_on_edit_keeps_the_stored_one_and_clear_removes_it(staff_browser):
    switch = make_switch(community="kept-community", snmp_version="3", username="panel")
    switch.set_secret("auth_key", "auth-passphrase")
    switch.auth_protocol = "sha"
    switch.save()
    url = reverse("admin:inventory_switch_change", args=[switch.pk])
    form = {**SWITCH_FORM, "name": switch.name, "snmp_version": "3", "username": "panel"}
    form.update(community="", auth_protocol="sha", notes="edited")
    assert staff_browser.post(url, form).status_code == 302
    switch.refresh_from_db()
    assert switch.notes == "edited"
    assert switch.reveal_secret("community") == "kept-community"
    assert switch.reveal_secret("auth_key") == "auth-passphrase"
    assert staff_browser.post(url, {**form, "clear_community": "on"}).status_code == 302
    switch.refresh_from_db()
    assert not switch.has_secret("community") and switch.has_secret("auth_key")
    event = AuditEvent.objects.filter(action="switch.update").latest("pk")
    assert event.detail["changed"] == ["community cleared"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"community": ""}, "SNMP v2c needs a community."),
        ({"snmp_version": "3"}, "SNMP v3 needs a user."),
        (
            {"snmp_version": "3", "username": "u", "auth_protocol": "sha", "auth_key": "short"},
            "at least 8 characters",
        ),
        (
            {"snmp_version": "3", "username": "u", "priv_protocol": "aes", "priv_key": "12345678"},
            "Privacy needs authentication too",
        ),
    ],
)
def test_incomplete_snmp_credentials_are_form_errors(staff_browser, changes, message):
    response = staff_browser.post(reverse("admin:inventory_switch_add"), {**SWITCH_FORM, **changes})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Switch.objects.exists()


def test_the_generic_pdu_profile_is_checked_in_the_admin(staff_browser):
    form = {**SWITCH_FORM, "name": "pdu-admin", "profile": "generic", "cycle_seconds": "5"}
    response = staff_browser.post(reverse("admin:inventory_pdu_add"), form)
    assert response.status_code == 200
    assert "The generic profile needs it." in response.content.decode()
    form.update(control_oid="1.3.6.1.4.1.99999.1", on_value="1", off_value="0")
    assert staff_browser.post(reverse("admin:inventory_pdu_add"), form).status_code == 302
    assert Pdu.objects.get(name="pdu-admin").reveal_secret("community") == "typed-community"
