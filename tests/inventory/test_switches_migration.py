"""Migration 0005: switch ports recorded with the switch as free text keep their rows."""

import pytest

BEFORE = [("inventory", "0004_server_names_are_host_names")]
AFTER = [("inventory", "0005_switches_and_pdus")]


@pytest.mark.django_db(transaction=True)
def test_each_switch_name_becomes_a_switch_holding_its_ports(migrator):
    old = migrator(BEFORE)
    port = old.get_model("inventory", "SwitchPort")
    for switch, name in [("sw-a", "Gi1/0/1"), ("sw-a", "Gi1/0/2"), ("sw-b", "Gi1/0/1")]:
        port.objects.create(switch=switch, port=name, admin_status="down")

    new = migrator(AFTER)

    ports = new.get_model("inventory", "SwitchPort").objects.order_by("switch__name", "name")
    assert [(p.switch.name, p.switch.address, p.name, p.admin_status) for p in ports] == [
        ("sw-a", "sw-a", "Gi1/0/1", "unknown"),
        ("sw-a", "sw-a", "Gi1/0/2", "unknown"),
        ("sw-b", "sw-b", "Gi1/0/1", "unknown"),
    ]
    assert all(p.if_index is None for p in ports)  # until discovery walks the switch
