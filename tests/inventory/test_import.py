"""Bulk enrolment from CSV: all rows or none, with a report per refused row."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.importing import import_servers
from inventory.models import Bmc, Server
from panel.models import AuditEvent
from tests.factories import make_profile, make_rack

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
    )
    report = import_servers(actor=admin, text=text)
    assert not report.ok and report.enrolled == []
    reasons = dict(report.refused)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
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
            "serial, bmc_address, bmc_port, bmc_username, bmc_password; missing columns "
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
