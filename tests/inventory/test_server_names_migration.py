"""Migration 0004 on servers enrolled before names had a rule: what it fixes, what it reports."""

import pytest

BEFORE = [("inventory", "0003_network_boot")]
AFTER = [("inventory", "0004_server_names_are_host_names")]


@pytest.mark.django_db(transaction=True)
def test_names_that_only_need_lower_case_are_fixed_and_the_others_are_reported(capsys, migrator):
    old = migrator(BEFORE)
    profile = old.get_model("inventory", "HardwareProfile").objects.create(
        name="cfg", cpu="x", ram_gb=1, disk_size_gb=1
    )
    names = [
        "web-01",  # already a host name
        "WEB-02",  # case only: fixed
        " Db-03 ",  # case and stray spaces: fixed
        "Mail-04",  # would clash with mail-04 below: reported
        "mail-04",
        "API-05",  # two names that lower-case alike: both reported
        "Api-05",
        "web_06",  # not a host name in any case: reported
        "a\nchain http://evil/x",  # reported, never guessed at
        "fra1.node-07",  # dots: reported
    ]
    old_server = old.get_model("inventory", "Server")
    ids = {name: old_server.objects.create(name=name, profile=profile).pk for name in names}

    new = migrator(AFTER)

    server = new.get_model("inventory", "Server")
    after = {pk: name for pk, name in server.objects.values_list("pk", "name")}
    assert [after[ids[name]] for name in names] == [
        "web-01",
        "web-02",
        "db-03",
        "Mail-04",
        "mail-04",
        "API-05",
        "Api-05",
        "web_06",
        "a\nchain http://evil/x",
        "fra1.node-07",
    ]
    audit = new.get_model("panel", "AuditEvent").objects
    renamed = {e.target_id: e.detail for e in audit.filter(action="server.rename")}
    assert renamed == {
        str(ids["WEB-02"]): {"from": "WEB-02", "to": "web-02", "by": "migration 0004"},
        str(ids[" Db-03 "]): {"from": " Db-03 ", "to": "db-03", "by": "migration 0004"},
    }
    flagged = {e.target_id: e.detail["reason"] for e in audit.filter(action="server.name_invalid")}
    assert set(flagged) == {
        str(ids[name])
        for name in (
            "Mail-04",
            "API-05",
            "Api-05",
            "web_06",
            "a\nchain http://evil/x",
            "fra1.node-07",
        )
    }
    assert (
        flagged[str(ids["Mail-04"])]
        == f"in lower case it would be the name of server #{ids['mail-04']}"
    )
    assert flagged[str(ids["API-05"])] == "another server's name is the same in lower case"
    assert flagged[str(ids["web_06"])] == "not a host name even in lower case"
    printed = capsys.readouterr().out
    hostile = ids["a\nchain http://evil/x"]
    assert f"Renamed server #{ids['WEB-02']} 'WEB-02' to 'web-02'" in printed
    assert f"Server #{hostile} 'a\\nchain http://evil/x' keeps its name" in printed
    assert "rename these in the admin" in printed
