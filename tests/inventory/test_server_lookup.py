"""Exact server lookups a billing system does: by address, PXE MAC or name."""

import pytest

from inventory import ipam
from tests.factories import make_pool, make_server


@pytest.fixture
def addressed(admin, owned_server):
    """The owned server with a main IPv4 and a second IPv4 and an IPv6 address."""
    v4 = make_pool(name="v4")
    v6 = make_pool(cidr="2001:db8::/64", first="2001:db8::10", last="2001:db8::20", name="v6")
    ipam.allocate_ip(actor=admin, server=owned_server, pool=v4)
    ipam.allocate_ip(actor=admin, server=owned_server, pool=v4)
    ipam.allocate_ip(actor=admin, server=owned_server, pool=v6)
    return owned_server


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_anonymous_cannot_look_up(anonymous_api, addressed):
    assert anonymous_api.get("/api/v1/servers/?ip=192.0.2.10").status_code == 401


@pytest.mark.parametrize("address", ["192.0.2.10", "192.0.2.11", "2001:db8::10", "2001:DB8:0::10"])
def test_a_server_is_found_by_any_of_its_addresses(admin_api, owner_api, addressed, address):
    make_server()
    assert ids(admin_api.get("/api/v1/servers/", {"ip": address})) == [addressed.pk]
    assert ids(owner_api.get("/api/v1/servers/", {"ip": address})) == [addressed.pk]


def test_another_customer_does_not_find_it(other_api, addressed):
    assert ids(other_api.get("/api/v1/servers/?ip=192.0.2.10")) == []
    assert ids(other_api.get(f"/api/v1/servers/?mac={addressed.mac}")) == []
    assert ids(other_api.get(f"/api/v1/servers/?name={addressed.name}")) == []


def test_an_address_is_matched_exactly_not_as_a_prefix(admin_api, addressed):
    assert ids(admin_api.get("/api/v1/servers/?ip=192.0.2.1")) == []


@pytest.mark.parametrize("address", ["192.0.2", "not-an-ip", "192.0.2.10/32", "::g"])
def test_a_malformed_address_is_a_400_naming_the_field(admin_api, address):
    response = admin_api.get("/api/v1/servers/", {"ip": address})
    assert response.status_code == 400
    assert list(response.json()) == ["ip"]


@pytest.mark.parametrize(
    "spelling", ["02:00:00:AB:CD:EF", "02-00-00-ab-cd-ef", "0200.00ab.cdef", "020000abcdef"]
)
def test_the_mac_is_found_in_any_usual_spelling(admin_api, owner_api, admin, customer, spelling):
    server = make_server(mac="02:00:00:ab:cd:ef", owner=customer)
    make_server()
    assert ids(admin_api.get("/api/v1/servers/", {"mac": spelling})) == [server.pk]
    assert ids(owner_api.get("/api/v1/servers/", {"mac": spelling})) == [server.pk]


@pytest.mark.parametrize("mac", ["02:00:00:ab:cd", "zz:00:00:ab:cd:ef", "01:00:5e:00:00:01"])
def test_a_malformed_mac_is_a_400_naming_the_field(admin_api, mac):
    response = admin_api.get("/api/v1/servers/", {"mac": mac})
    assert response.status_code == 400
    assert list(response.json()) == ["mac"]


def test_the_name_is_matched_exactly_in_any_case(admin_api, owner_api, customer):
    server = make_server(name="ams-web-01", owner=customer)
    make_server(name="ams-web-010", owner=customer)
    assert ids(admin_api.get("/api/v1/servers/?name=AMS-web-01")) == [server.pk]
    assert ids(owner_api.get("/api/v1/servers/?name=ams-web-01")) == [server.pk]
    assert ids(admin_api.get("/api/v1/servers/?name=ams-web")) == []


def test_a_lookup_costs_a_bounded_number_of_queries(
    admin_api, addressed, django_assert_max_num_queries
):
    for _ in range(10):
        make_server()
    with django_assert_max_num_queries(12):
        assert ids(admin_api.get("/api/v1/servers/?ip=192.0.2.10")) == [addressed.pk]
