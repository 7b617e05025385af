"""Staff tools in the admin: server actions through the services, CSV import, dashboard."""

import html
import re

from django.core.files.uploadedfile import SimpleUploadedFile

from inventory.models import Pdu, PduOutlet, Server, Switch, SwitchPort
from panel.models import AuditEvent
from provisioning.models import Operation, OsTemplate
from tests.factories import make_profile, make_server

CHANGELIST = "/admin/inventory/server/"


def act(staff, action: str, servers, **form):
    body = {"action": action, "_selected_action": [s.pk for s in servers], **form}
    return staff.post(CHANGELIST, body, follow=True)


def shown(response) -> str:
    """The page's text, links reduced to what they say."""
    return html.unescape(re.sub(r"<a [^>]*>([^<]*)</a>", r"\1", response.content.decode()))


def started(server) -> str:
    """How a message names a server and the operation it started there."""
    return f"{server.name} (operation #{server.operations.latest('pk').pk})."


def test_power_action_reports_each_server(staff, admin):
    one, two = make_server(actor=admin, name="a-1"), make_server(actor=admin, name="a-2")
    Operation.objects.create(server=two, kind="power_on", params={"action": "on"})
    page = shown(act(staff, "power_cycle", [one, two]))
    assert f"Power cycle requested: {started(one)}" in page
    assert "Refused: a-2: a-2 already has an active operation" in page
    op = Operation.objects.get(server=one)
    assert op.kind == "power_cycle" and op.requested_by == admin
    assert AuditEvent.objects.filter(action="operation.request.power_cycle").count() == 1


def test_set_boot_device_asks_then_applies(staff, admin):
    server = make_server(actor=admin, name="b-1")
    form_page = act(staff, "set_boot_device", [server])
    assert "Set the boot device" in shown(form_page) and not Operation.objects.exists()
    act(staff, "set_boot_device", [server], apply="1", device="pxe", persistent="on")
    assert Operation.objects.get(server=server).params == {"device": "pxe", "persistent": True}


def test_reinstall_checks_each_server(staff, admin):
    two_disks = make_server(actor=admin, name="r-2")
    one_disk = make_server(actor=admin, name="r-1", profile=make_profile(disk_count=1))
    alma = OsTemplate.objects.get(name="AlmaLinux 9")
    form = {"apply": "1", "os_template": alma.pk, "raid": "raid_1", "reboot": "auto"}
    weak = shown(act(staff, "reinstall", [two_disks], password="password", **form))
    assert "Refused: r-2: This password is too common." in weak
    page = shown(act(staff, "reinstall", [two_disks, one_disk], password="Correct-Horse-9", **form))
    assert f"Reinstall of AlmaLinux 9 started: {started(two_disks)}" in page
    assert "Refused: r-1: RAID 1 (mirror) needs 2 disks or more; this server has 1." in page
    assert Operation.objects.get(server=two_disks, kind="install").params["raid"] == "raid_1"


def test_suspend_asks_for_a_reason_then_suspends_each_connected_server(staff, admin):
    wired, bare = make_server(actor=admin, name="s-1"), make_server(actor=admin, name="s-2")
    switch = Switch.objects.create(name="sw-a", address="192.0.2.9")
    SwitchPort.objects.create(switch=switch, name="Gi1/0/1", if_index=1, server=wired)
    assert "Suspend: the customer loses" in shown(act(staff, "suspend", [wired]))

    page = shown(act(staff, "suspend", [wired, bare], apply="1", reason="Invoice 77 unpaid"))

    assert f"Suspend requested: {started(wired)}" in page
    assert "Refused: s-2: s-2 has no switch port connected" in page
    wired.refresh_from_db()
    assert (wired.suspended, wired.suspend_reason) == (True, "Invoice 77 unpaid")
    Operation.objects.update(state=Operation.State.SUCCEEDED)
    page = shown(act(staff, "resume", [wired]))
    assert f"Resume requested: {started(wired)}" in page


def test_pdu_power_cycle_action_switches_the_outlets(staff, admin):
    server = make_server(actor=admin, name="p-1")
    PduOutlet.objects.create(
        pdu=Pdu.objects.create(name="pdu-a", address="192.0.2.8"), number=2, server=server
    )
    page = shown(act(staff, "pdu_cycle", [server]))
    assert f"Power cycle of the PDU outlets requested: {started(server)}" in page
    assert Operation.objects.get(server=server).kind == Operation.Kind.PDU_CYCLE


def test_assign_and_release_owner(staff, admin, customer):
    server = make_server(actor=admin, name="o-1")
    act(staff, "assign_owner", [server], apply="1", owner=customer.pk)
    assert Server.objects.get(pk=server.pk).owner == customer
    page = shown(act(staff, "assign_owner", [server], apply="1", owner=customer.pk))
    assert "Assigned to owner@example.test: o-1." in page
    act(staff, "release_owner", [server])
    assert Server.objects.get(pk=server.pk).owner is None
    assert AuditEvent.objects.filter(action="server.release_owner").count() == 1


def test_delete_asks_then_deletes_each_server_the_service_allows(staff, admin, customer):
    idle = make_server(actor=admin, name="x-1")
    owned = make_server(actor=admin, name="x-2", owner=customer)
    form_page = shown(act(staff, "delete_servers", [idle, owned]))
    assert "Delete from inventory" in form_page and Server.objects.count() == 2
    page = shown(act(staff, "delete_servers", [idle, owned], apply="1"))
    assert "Deleted: x-1." in page
    assert "Refused: x-2: x-2 is assigned to owner@example.test; release it first." in page
    assert list(Server.objects.values_list("name", flat=True)) == ["x-2"]
    assert AuditEvent.objects.filter(action="server.delete").count() == 1


def test_csv_import_page(staff):
    make_profile(name="E-2236")
    header = "name,configuration,bmc_address,bmc_username,bmc_password\n"
    bad = header + "ok-1,E-2236,10.0.0.1,admin,pw\nbad-2,Nope,10.0.0.2,admin,pw\n"
    page = shown(
        staff.post(
            "/admin/inventory/server/import/",
            {"file": SimpleUploadedFile("servers.csv", bad.encode())},
        )
    )
    assert "Nothing was imported: 1 row refused." in page and 'No configuration "Nope".' in page
    assert not Server.objects.exists()
    good = header + "ok-1,E-2236,10.0.0.1,admin,pw\nok-2,E-2236,10.0.0.2,admin,pw\n"
    page = shown(
        staff.post(
            "/admin/inventory/server/import/",
            {"file": SimpleUploadedFile("servers.csv", good.encode())},
        )
    )
    assert "Enrolled 2 servers." in page
    assert set(Server.objects.values_list("name", flat=True)) == {"ok-1", "ok-2"}
    binary = staff.post(
        "/admin/inventory/server/import/",
        {"file": SimpleUploadedFile("servers.csv", b"\xff\xfe\x00bad")},
    )
    assert "The file is not UTF-8 text." in shown(binary)


def test_dashboard(staff, admin, customer, client, django_assert_max_num_queries):
    for n in range(5):
        make_server(actor=admin, name=f"d-{n}", owner=customer if n < 2 else None)
    failed = Operation.objects.create(
        server=Server.objects.first(), kind="power_on", state="failed", error="BMC said no"
    )
    with django_assert_max_num_queries(15):
        page = shown(staff.get("/admin/dashboard/"))
    assert "Servers (5)" in page and "BMC said no" in page and f"<td>#{failed.pk}</td>" in page
    client.logout()
    assert client.get("/admin/dashboard/").status_code == 302  # to the admin login
