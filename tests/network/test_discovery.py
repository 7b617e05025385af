"""Discovery against snmpsim: ports and outlets upserted in a few queries, vanished ones kept
and reported, and the device's reachability recorded."""

import pytest

from inventory.models import Pdu, PduOutlet, Switch, SwitchPort
from network.discovery import discover_pdu, discover_switch
from network.snmp import SnmpUnreachable
from panel.models import AuditEvent
from tests.network.conftest import BIG_SWITCH_PORTS, SWITCH_PORTS
from tests.simlab import free_udp_ports

pytestmark = pytest.mark.django_db


def make_switch(port: int, community: str = "switch", **fields) -> Switch:
    switch = Switch(name=f"sw-{port}", address="127.0.0.1", port=port, **fields)
    switch.set_secret("community", community)
    switch.save()
    return switch


def make_pdu(port: int, community: str, profile: str) -> Pdu:
    pdu = Pdu(name=f"pdu-{community}", address="127.0.0.1", port=port, profile=profile)
    pdu.set_secret("community", community)
    pdu.save()
    return pdu


def test_discovering_a_switch_creates_its_ports_and_adopts_ones_staff_entered(
    snmpsim, free_server, django_assert_max_num_queries
):
    switch = make_switch(snmpsim.port)
    cabled = SwitchPort.objects.create(switch=switch, name="Gi1/0/5", server=free_server)

    with django_assert_max_num_queries(8):  # two of them: the test's savepoint
        report = discover_switch(switch)

    assert report.updated == ["Gi1/0/5"]
    assert len(report.created) == len(SWITCH_PORTS)  # 47 ports and Vlan1
    assert report.vanished == []
    cabled.refresh_from_db()
    assert (cabled.if_index, cabled.server, cabled.speed_mbps) == (1005, free_server, 1000)
    assert cabled.description == "GigabitEthernet1/0/5"
    assert (cabled.admin_status, cabled.oper_status) == ("up", "up")
    assert cabled.discovered_at is not None
    assert switch.ports.count() == 1 + len(SWITCH_PORTS)
    switch.refresh_from_db()
    assert (switch.reachable, switch.consecutive_failures, switch.last_error) == (True, 0, "")
    assert switch.last_seen is not None


def test_rediscovery_follows_renumbered_ports_and_keeps_vanished_ones(snmpsim, free_server):
    switch = make_switch(snmpsim.v3_target().port, snmp_version="3")
    switch.username, switch.auth_protocol, switch.priv_protocol = "panel", "sha", "aes"
    switch.set_secret("auth_key", snmpsim.v3_target().auth_key)
    switch.set_secret("priv_key", snmpsim.v3_target().priv_key)
    switch.save()
    # The switch renumbered its interfaces: Gi1/0/1 and Gi1/0/2 swapped ifIndexes.
    first = SwitchPort.objects.create(
        switch=switch, name="Gi1/0/1", if_index=1002, server=free_server
    )
    second = SwitchPort.objects.create(switch=switch, name="Gi1/0/2", if_index=1001)
    gone = SwitchPort.objects.create(
        switch=switch, name="Gi2/0/1", if_index=1003, server=free_server
    )

    report = discover_switch(switch)

    first.refresh_from_db(), second.refresh_from_db(), gone.refresh_from_db()
    assert (first.if_index, first.server) == (1001, free_server)  # the server stays on its port
    assert second.if_index == 1002
    assert report.vanished == ["Gi2/0/1"]
    assert (gone.if_index, gone.server) == (None, free_server)  # kept, but no longer driven
    assert SwitchPort.objects.get(switch=switch, name="Gi1/0/3").if_index == 1003

    again = discover_switch(switch)
    assert (again.created, again.updated) == ([], [])
    assert again.unchanged == 1 + len(SWITCH_PORTS)
    assert again.vanished == ["Gi2/0/1"]


def test_a_switch_that_does_not_answer_records_the_error_and_keeps_its_ports(fast_snmp):
    switch = make_switch(free_udp_ports(1, start=44800))
    SwitchPort.objects.create(switch=switch, name="Gi1/0/1", if_index=1)
    for failures in (1, 2):
        with pytest.raises(SnmpUnreachable):
            discover_switch(switch)
        switch.refresh_from_db()
        assert switch.consecutive_failures == failures
    assert switch.reachable is False
    assert switch.last_error.startswith("No answer from the SNMP agent at 127.0.0.1:")
    assert switch.ports.get().if_index == 1


def test_discovering_a_pdu_creates_its_outlets_and_reports_vanished_ones(
    snmpsim, free_server, django_assert_max_num_queries
):
    pdu = make_pdu(snmpsim.port, "apc-rpdu", "apc_rpdu")
    PduOutlet.objects.create(pdu=pdu, number=1, name="psu-a", server=free_server)
    PduOutlet.objects.create(pdu=pdu, number=30, server=free_server)

    with django_assert_max_num_queries(8):  # two of them: the test's savepoint
        report = discover_pdu(pdu)

    assert report.updated == ["1"]
    assert report.created == [str(n) for n in range(2, 25)]
    assert report.vanished == ["30"]
    first = pdu.outlets.get(number=1)
    assert (first.name, first.power_state, first.server) == ("SW-DC01-WEST-01-B", "on", free_server)
    assert pdu.outlets.get(number=30).server == free_server
    assert pdu.outlets.get(number=13).power_state == "on"
    pdu.refresh_from_db()
    assert pdu.reachable is True


@pytest.mark.e2e
def test_a_thousand_port_switch_is_discovered_in_a_bounded_number_of_queries(
    snmpsim, django_assert_max_num_queries
):
    switch = make_switch(snmpsim.port, community="big")
    # Django writes at most 999 parameters to a query on SQLite: ~90 new ports per INSERT.
    with django_assert_max_num_queries(20):
        report = discover_switch(switch)
    assert len(report.created) == BIG_SWITCH_PORTS
    with django_assert_max_num_queries(6):
        assert discover_switch(switch).unchanged == BIG_SWITCH_PORTS


def test_staff_discover_a_switch_through_the_api_and_customers_cannot(
    snmpsim, admin_api, owner_api, anonymous_api
):
    switch = make_switch(snmpsim.port)
    url = f"/api/v1/switches/{switch.pk}/discover/"
    assert anonymous_api.post(url).status_code == 401
    assert owner_api.post(url).status_code in (403, 404)

    answer = admin_api.post(url)

    assert answer.status_code == 200
    assert len(answer.json()["created"]) == len(SWITCH_PORTS) + 1  # and Vlan1
    assert AuditEvent.objects.get(action="switch.discover").detail["created"] == 49


def test_a_pdu_that_does_not_answer_is_a_409_with_the_reason(admin_api, fast_snmp):
    pdu = make_pdu(free_udp_ports(1), "nobody", "apc_rpdu")

    answer = admin_api.post(f"/api/v1/pdus/{pdu.pk}/discover/")

    assert answer.status_code == 409
    assert f"127.0.0.1:{pdu.port}" in answer.json()["detail"]


def test_the_admin_action_discovers_each_selected_device(snmpsim, client, admin, fast_snmp):
    switch = make_switch(snmpsim.port)
    dead = make_switch(free_udp_ports(1, start=44900))
    dead_name = dead.name
    client.force_login(admin)

    page = client.post(
        "/admin/inventory/switch/",
        {"action": "discover", "_selected_action": [switch.pk, dead.pk]},
        follow=True,
    ).content.decode()

    assert f"Switch sw-{snmpsim.port}: 49 new, 0 updated, 0 unchanged." in page
    assert f"Switch {dead_name}: No answer from the SNMP agent" in page
