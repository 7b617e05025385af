"""The server's admin page: its state at a glance, and forms that act on it through the
same services as the API; refusals are form errors, never a 500."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import ipam
from inventory.models import Bmc, IpAddress, Rack
from panel.models import AuditEvent, SshKey
from provisioning import services
from provisioning.models import Operation, OsTemplate
from tests.factories import ED25519, FINGERPRINT, make_pool, make_rack, make_server, make_user
from tests.pages import page_text as text

CHANGELIST = "/admin/inventory/server/"


def page_of(server) -> str:
    return f"{CHANGELIST}{server.pk}/change/"


def do(server, name: str) -> str:
    return f"{CHANGELIST}{server.pk}/do/{name}/"


def test_the_page_shows_power_owner_addresses_and_operations(
    staff, admin, customer, django_assert_max_num_queries
):
    server = make_server(actor=admin, owner=customer)
    Bmc.objects.filter(server=server).update(
        power_state="on", power_state_read_at=timezone.now(), reachable=True
    )
    pool = make_pool(first="192.0.2.10", last="192.0.2.20")
    ipam.allocate_ip(actor=admin, server=server, pool=pool)
    active = Operation.objects.create(server=server, kind="power_cycle", requested_by=admin)
    with django_assert_max_num_queries(40):
        response = staff.get(page_of(server))
    shown = text(response)
    assert response.status_code == 200
    assert "On, read 0\xa0minutes ago" in shown and "reachable" in shown
    assert customer.email in shown
    assert f"192.0.2.10{pool.network.name} ({pool.network.cidr}" in shown.replace("\n", "")
    assert f'href="/admin/provisioning/operation/{active.pk}/change/"' in response.content.decode()
    assert "Release from its customer" in shown and "Assign to a customer" not in shown


def test_a_power_request_from_the_page_links_the_operation(staff, admin):
    server = make_server(actor=admin)
    response = staff.post(do(server, "power"), {"action": "cycle"}, follow=True)
    op = Operation.objects.get(server=server)
    assert op.kind == "power_cycle" and op.requested_by == admin
    assert f"Power action requested: operation #{op.pk}." in text(response)
    assert response.redirect_chain[-1][0] == page_of(server)


def test_a_busy_server_refuses_on_the_form_not_with_a_500(staff, admin):
    server = make_server(actor=admin)
    busy = Operation.objects.create(server=server, kind="install")
    response = staff.post(do(server, "boot-device"), {"device": "pxe"})
    assert response.status_code == 400
    assert f"already has an active operation #{busy.pk}" in text(response)
    assert Operation.objects.count() == 1


def test_the_reinstall_form_offers_labels_raid_names_and_the_owners_keys(staff, admin, customer):
    server = make_server(actor=admin, owner=customer)
    key = SshKey.objects.create(
        user=customer,
        name="laptop",
        public_key=ED25519,
        key_type="ssh-ed25519",
        fingerprint=FINGERPRINT,
    )
    SshKey.objects.create(
        user=make_user(), name="someone-else", public_key=ED25519, key_type="ssh-ed25519"
    )
    shown = text(staff.get(do(server, "reinstall")))
    assert "OS template" in shown and "RAID 1 (mirror)" in shown and "no_raid" not in shown
    assert "laptop" in shown and "someone-else" not in shown
    alma = OsTemplate.objects.get(name="AlmaLinux 9")
    form = {"os_template": alma.pk, "raid": "raid_1", "reboot": "auto"}

    weak = staff.post(do(server, "reinstall"), {**form, "password": "password"})
    assert weak.status_code == 400 and "This password is too common." in text(weak)
    nothing = staff.post(do(server, "reinstall"), form)
    assert "Give a root password, SSH keys, or both." in text(nothing)
    assert not Operation.objects.exists()

    done = staff.post(
        do(server, "reinstall"), {**form, "ssh_keys": [key.pk], "ssh_key_texts": ED25519 + "\n"}
    )
    op = Operation.objects.get(server=server)
    assert done.status_code == 302 and op.kind == "install"
    assert op.params["ssh_key_names"] == ["laptop"]  # the same key given twice, installed once


def test_diagnostics_and_wipe_start_from_the_page(staff, admin):
    server = make_server(actor=admin)
    staff.post(do(server, "diagnostics"), {"wipe": "none"})
    op = Operation.objects.get(server=server)
    assert (op.kind, op.params["wipe"]) == ("diagnostics", "none")
    services.cancel_operation(actor=admin, operation=op)
    staff.post(do(server, "wipe"), {"mode": "full"})
    assert Operation.objects.get(kind="wipe").params["wipe"] == "full"


def test_assign_and_release_the_owner_from_the_page(staff, admin, customer):
    server = make_server(actor=admin)
    staff.post(do(server, "assign"), {"owner": customer.pk})
    server.refresh_from_db()
    assert server.owner == customer
    staff.post(do(server, "release-owner"))
    server.refresh_from_db()
    assert server.owner is None
    assert AuditEvent.objects.filter(action="server.release_owner").exists()


def test_ip_addresses_are_allocated_and_released_from_the_page(staff, admin):
    server = make_server(actor=admin)
    pool = make_pool(first="192.0.2.10", last="192.0.2.11")
    assert "Exact address" in text(staff.get(do(server, "allocate-ip")))

    staff.post(do(server, "allocate-ip"), {"pool": pool.pk})
    exact = staff.post(
        do(server, "allocate-ip"),
        {"network": pool.network.pk, "address": "192.0.2.11", "main": "yes"},
        follow=True,
    )
    assert "192.0.2.11 allocated to" in text(exact) and "(main)" in text(exact)
    main = IpAddress.objects.get(server=server, is_main=True)
    assert main.address == "192.0.2.11"

    exhausted = staff.post(do(server, "allocate-ip"), {"pool": pool.pk})
    assert exhausted.status_code == 400 and "No free address left" in text(exhausted)
    outside = staff.post(do(server, "allocate-ip"), {"pool": pool.pk, "address": "198.51.100.1"})
    assert "is not inside the pools asked for" in text(outside)
    both = staff.post(do(server, "allocate-ip"), {"pool": pool.pk, "network": pool.network.pk})
    assert "Choose a pool or a network, not both." in text(both)

    staff.post(do(server, "release-ip"), {"ip": main.pk})
    assert not IpAddress.objects.filter(pk=main.pk).exists()
    assert AuditEvent.objects.filter(action="ip.release").exists()


def test_a_customer_cannot_use_the_page_forms(client, customer, admin):
    server = make_server(actor=admin, owner=customer)
    client.force_login(customer)
    response = client.post(do(server, "power"), {"action": "off"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Operation.objects.exists()


def test_an_unknown_form_is_a_404(staff, admin):
    assert staff.post(do(make_server(actor=admin), "launch-missiles")).status_code == 404


def test_the_server_list_takes_the_same_queries_with_many_racks(staff, admin, customer):
    def add_racks(count):
        for _ in range(count):
            rack = make_rack()
            make_server(actor=admin, owner=customer, rack=rack, unit=1)

    add_racks(2)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(CHANGELIST).status_code == 200
    add_racks(50)
    with CaptureQueriesContext(connection) as many:
        response = staff.get(CHANGELIST)
    assert Rack.objects.count() == 52
    assert len(many) == len(few)
    assert len(response.context["cl"].list_display) <= 9  # with the checkbox: fits at 1280 px


def test_a_server_with_a_past_install_is_deleted_with_its_operations(staff, admin):
    server = make_server(actor=admin)
    alma = OsTemplate.objects.get(name="AlmaLinux 9")
    op = services.start_install(actor=admin, server=server, template=alma, password="Xy-9-long-pw")
    services.cancel_operation(actor=admin, operation=op)
    confirm = staff.get(f"{CHANGELIST}{server.pk}/delete/")
    assert confirm.status_code == 200 and "Operation" in text(confirm)
    staff.post(f"{CHANGELIST}{server.pk}/delete/", {"post": "yes"})
    assert not Operation.objects.filter(pk=op.pk).exists()
