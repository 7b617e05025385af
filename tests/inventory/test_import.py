"""Bulk enrolment from CSV: all rows or none, with a report per refused row."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.importing import import_servers
from inventory.models import Bmc, PduOutlet, Server, SwitchPort
from panel.models import AuditEvent
from tests.factories import make_pdu, make_profile, make_rack, make_server, make_switch

HEADER = "name,configuration,location,rack,unit,mac,serial,bmc_address,bmc_port,bmc_username,"
HEADER += "bmc_password\n"


@pytest.fixture
def place(db):
    make_profile(name="E-2236-32G")
    return make_rack(name="R1")


def rows(place, *lines: str) -> str:
    return HEADER + "".join(line.format(loc=place.location.name) + "\n" for line in lines)


def test_a_valid_file_enrols_every_row(admin, place):
    text = rows(
        place,
        "web-01,E-2236-32G,{loc},R1,1,52:54:00:aa:00:01,SN1,10.0.0.1,623,admin,s3cret-1",
        "web-02,E-2236-32G,{loc},R1,2,52:54:00:aa:00:02,SN2,10.0.0.2,,admin,s3cret-2",
        "spare,E-2236-32G,,,,,,10.0.0.3,6230,root,s3cret-3",
    )
    report = import_servers(actor=admin, text=text)
    assert report.ok and report.enrolled == ["web-01", "web-02", "spare"]
    assert Bmc.objects.get(server__name="web-02").port == 623
    assert Bmc.objects.get(server__name="spare").reveal_password() == "s3cret-3"
    assert "s3cret" not in Bmc.objects.get(server__name="spare").password_encrypted
    assert AuditEvent.objects.filter(action="server.enrol").count() == 3


def test_one_bad_row_imports_nothing_and_every_refusal_is_reported(admin, place):
    text = rows(
        place,
        "web-01,E-2236-32G,{loc},R1,1,52:54:00:aa:00:01,SN1,10.0.0.1,623,admin,pw",
        "web-02,E-2236-32G,{loc},R1,2,not-a-mac,SN2,10.0.0.2,623,admin,pw",
        "web-01,E-2236-32G,,,,,,10.0.0.3,623,admin,pw",
        "web-04,No-such-config,,,,,,10.0.0.4,623,admin,pw",
        "web-05,E-2236-32G,{loc},R9,1,,,10.0.0.5,623,admin,pw",
        "web-06,E-2236-32G,,,,,,10.0.0.6,port,admin,pw",
        "web-07,E-2236-32G,,,,,,,623,admin,pw",
        "web-08,E-2236-32G,,,,,,10.0.0.8,6²3,admin,pw",  # "²" is a digit to str.isdigit
    )
    report = import_servers(actor=admin, text=text)
    assert not report.ok and report.enrolled == []
    reasons = dict(report.refused)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert reasons[9] == 'bmc_port: "6²3" is not a whole number.'
    assert "mac" in reasons[3]
    assert "name" in reasons[4].lower()
    assert reasons[5] == 'No configuration "No-such-config".'
    assert reasons[6].startswith('No rack "R9"')
    assert reasons[7] == 'bmc_port: "port" is not a whole number.'
    assert reasons[8] == "Missing bmc_address."
    assert not Server.objects.exists()
    assert not AuditEvent.objects.filter(action="server.enrol").exists()


def test_a_wrong_header_is_refused(admin, place):
    report = import_servers(actor=admin, text="name,colour\nweb-01,red\n")
    assert report.refused == [
        (
            1,
            "The header must name the columns name, configuration, location, rack, unit, mac, "
            "serial, bmc_address, bmc_port, bmc_username, bmc_password (and may name switch, "
            "switch_port, bmc_switch_port, pdu, pdu_outlet); missing columns "
            "bmc_address, bmc_password, bmc_username, configuration; unknown columns colour.",
        )
    ]


def test_the_command(place, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(rows(place, "web-01,E-2236-32G,{loc},R1,1,,,10.0.0.1,623,admin,pw"))
    out = StringIO()
    call_command("import_servers", str(good), stdout=out)
    assert out.getvalue().strip() == "Enrolled 1 servers: web-01"
    bad = tmp_path / "bad.csv"
    bad.write_text(rows(place, "web-02,Nope,,,,,,10.0.0.2,623,admin,pw"))
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported: 1 row"):
        call_command("import_servers", str(bad), stderr=err)
    assert 'line 2: No configuration "Nope".' in err.getvalue()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_servers", str(tmp_path / "missing.csv"))


CONNECTED = HEADER.strip() + ",switch,switch_port,bmc_switch_port,pdu,pdu_outlet\n"


def test_rows_connect_their_servers_to_switch_ports_and_pdu_outlets(admin, place):
    switch = make_switch(name="sw-r1")
    make_pdu(name="pdu-r1")
    SwitchPort.objects.create(switch=switch, name="Gi1/0/1", if_index=10101)
    text = CONNECTED + (
        "web-01,E-2236-32G,,,,,,10.0.0.1,623,admin,pw,sw-r1,Gi1/0/1,Gi1/0/25,pdu-r1,1\n"
        "web-02,E-2236-32G,,,,,,10.0.0.2,623,admin,pw,sw-r1,Gi1/0/2,,,\n"
        "web-03,E-2236-32G,,,,,,10.0.0.3,623,admin,pw,,,,pdu-r1,3\n"
    )
    report = import_servers(actor=admin, text=text)
    assert report.ok, report.refused
    web_01 = Server.objects.get(name="web-01")
    ports = {port.name: port for port in web_01.switch_ports.all()}
    assert (ports["Gi1/0/1"].if_index, ports["Gi1/0/1"].is_ipmi_connection) == (10101, False)
    assert (ports["Gi1/0/25"].if_index, ports["Gi1/0/25"].is_ipmi_connection) == (None, True)
    assert web_01.pdu_outlets.get().number == 1
    assert SwitchPort.objects.get(name="Gi1/0/2").server.name == "web-02"
    assert PduOutlet.objects.get(number=3).server.name == "web-03"
    assert AuditEvent.objects.filter(action="switch_port.connect").count() == 3
    assert AuditEvent.objects.filter(action="pdu_outlet.connect").count() == 2


def test_bad_connections_refuse_their_rows_and_nothing_is_imported(admin, place):
    switch = make_switch(name="sw-r1")
    make_pdu(name="pdu-r1")
    taken = make_server()
    SwitchPort.objects.create(switch=switch, name="Gi1/0/9", server=taken)
    text = CONNECTED + (
        "web-01,E-2236-32G,,,,,,10.0.0.1,623,admin,pw,sw-r1,Gi1/0/1,,pdu-r1,1\n"
        "web-02,E-2236-32G,,,,,,10.0.0.2,623,admin,pw,sw-nope,Gi1/0/2,,,\n"
        "web-03,E-2236-32G,,,,,,10.0.0.3,623,admin,pw,,Gi1/0/3,,,\n"
        "web-04,E-2236-32G,,,,,,10.0.0.4,623,admin,pw,sw-r1,Gi1/0/9,,,\n"
        "web-05,E-2236-32G,,,,,,10.0.0.5,623,admin,pw,,,,pdu-nope,2\n"
        "web-06,E-2236-32G,,,,,,10.0.0.6,623,admin,pw,,,,pdu-r1,two\n"
        "web-07,E-2236-32G,,,,,,10.0.0.7,623,admin,pw,sw-r1,,,,\n"
    )
    report = import_servers(actor=admin, text=text)
    assert not report.ok and report.enrolled == []
    reasons = dict(report.refused)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert reasons[3] == 'No switch "sw-nope".'
    assert reasons[4] == "switch: switch_port needs the switch."
    assert reasons[5] == f"sw-r1 Gi1/0/9 is connected to {taken.name}; disconnect it first."
    assert reasons[6] == 'No pdu "pdu-nope".'
    assert reasons[7] == 'pdu_outlet: "two" is not a whole number.'
    assert reasons[8] == 'switch_port: Name the switch_port on switch "sw-r1".'
    assert list(Server.objects.values_list("name", flat=True)) == [taken.name]
    assert not SwitchPort.objects.filter(name="Gi1/0/1").exists()
    assert not PduOutlet.objects.exists()
    assert not AuditEvent.objects.filter(action__endswith=".connect").exists()


def test_the_import_page_documents_the_connection_columns(client, admin):
    client.force_login(admin)
    page = client.get("/admin/inventory/server/import/").content.decode()
    assert "bmc_switch_port" in page and "pdu_outlet" in page
