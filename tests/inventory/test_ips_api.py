import pytest

from inventory import ipam
from inventory.models import IpAddress, Location
from tests.factories import make_pool, make_rack, make_server


@pytest.fixture
def pool(admin):
    return make_pool(first="192.0.2.10", last="192.0.2.12")


def ips_url(server):
    return f"/api/v1/servers/{server.pk}/ips/"


def test_anonymous_gets_401_on_ips(anonymous_api, owned_server, pool):
    assert anonymous_api.get(ips_url(owned_server)).status_code == 401
    assert anonymous_api.post(ips_url(owned_server), {"pool": pool.pk}).status_code == 401
    assert anonymous_api.get("/api/v1/ips/").status_code == 401


def test_owner_reads_their_servers_addresses(owner_api, owned_server, admin, pool):
    ip = ipam.allocate_ip(actor=admin, server=owned_server, pool=pool)
    response = owner_api.get(ips_url(owned_server))
    assert response.status_code == 200
    assert [r["address"] for r in response.json()["results"]] == [ip.address]
    assert [r["address"] for r in owner_api.get("/api/v1/ips/").json()["results"]] == [ip.address]


def test_other_customer_sees_none_of_them(other_api, owned_server, admin, pool):
    ip = ipam.allocate_ip(actor=admin, server=owned_server, pool=pool)
    assert other_api.get(ips_url(owned_server)).status_code == 404
    assert other_api.get("/api/v1/ips/").json()["results"] == []
    assert other_api.get(f"/api/v1/ips/{ip.pk}/").status_code == 404
    assert other_api.delete(f"{ips_url(owned_server)}{ip.pk}/").status_code == 404
    assert IpAddress.objects.filter(pk=ip.pk).exists()


def test_customers_cannot_allocate_or_release(owner_api, owned_server, admin, pool):
    ip = ipam.allocate_ip(actor=admin, server=owned_server, pool=pool)
    assert owner_api.post(ips_url(owned_server), {"pool": pool.pk}).status_code == 403
    assert owner_api.delete(f"{ips_url(owned_server)}{ip.pk}/").status_code == 403


def test_admin_allocates_until_the_pool_is_exhausted(admin_api, free_server, pool):
    answers = [
        admin_api.post(ips_url(free_server), {"pool": pool.pk}, format="json") for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 409]
    assert [a.json()["address"] for a in answers[:3]] == ["192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert answers[0].json()["is_main"] is True
    assert "No free address" in answers[3].json()["detail"]


def test_admin_allocates_an_exact_address_from_a_network(admin_api, free_server, pool):
    response = admin_api.post(
        ips_url(free_server), {"network": pool.network_id, "address": "192.0.2.11"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["address"] == "192.0.2.11"
    again = admin_api.post(ips_url(free_server), {"address": "192.0.2.11"}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    "payload",
    [
        {"pool": 999999},
        {"address": "not-an-ip"},
        {"family": 5},
        {"pool": "x"},
        {"address": "10.9.9.9"},
        {"family": 6},
    ],
)
def test_bad_allocation_requests_are_field_errors(admin_api, free_server, pool, payload):
    response = admin_api.post(ips_url(free_server), payload, format="json")
    assert response.status_code == 400, response.content


def test_pool_and_network_together_are_refused(admin_api, free_server, pool):
    response = admin_api.post(
        ips_url(free_server), {"pool": pool.pk, "network": pool.network_id}, format="json"
    )
    assert response.status_code == 400
    assert "network" in response.json()


def test_admin_releases_an_address(admin_api, free_server, admin, pool):
    ip = ipam.allocate_ip(actor=admin, server=free_server, pool=pool)
    assert admin_api.delete(f"{ips_url(free_server)}{ip.pk}/").status_code == 204
    assert not IpAddress.objects.filter(pk=ip.pk).exists()
    assert admin_api.delete(f"{ips_url(free_server)}{ip.pk}/").status_code == 404


def test_an_address_is_released_only_through_its_own_server(
    admin_api, free_server, owned_server, admin, pool
):
    ip = ipam.allocate_ip(actor=admin, server=owned_server, pool=pool)
    assert admin_api.delete(f"{ips_url(free_server)}{ip.pk}/").status_code == 404


def test_ip_lists_take_bounded_queries(admin_api, admin, django_assert_max_num_queries):
    pool = make_pool(first="192.0.2.10", last="192.0.2.60")
    for _ in range(20):
        ipam.allocate_ip(actor=admin, server=make_server(), pool=pool)
    with django_assert_max_num_queries(5):
        assert admin_api.get("/api/v1/ips/").json()["count"] == 20
    server = make_server()
    with django_assert_max_num_queries(6):
        assert admin_api.get(ips_url(server)).status_code == 200


@pytest.fixture
def fra1_pool(admin):
    return make_pool(
        cidr="203.0.113.0/24",
        first="203.0.113.10",
        last="203.0.113.20",
        location=Location.objects.create(name="FRA1"),
    )


@pytest.fixture
def ams1_server(admin, customer):
    rack = make_rack(location=Location.objects.create(name="AMS1"))
    return make_server(actor=admin, owner=customer, name="web-ams", rack=rack, unit=1)


def test_an_address_of_another_location_is_refused_naming_both(
    anonymous_api, other_api, owner_api, admin_api, ams1_server, fra1_pool
):
    url = ips_url(ams1_server)
    assert anonymous_api.post(url, {"pool": fra1_pool.pk}, format="json").status_code == 401
    assert other_api.post(url, {"pool": fra1_pool.pk}, format="json").status_code in (403, 404)
    assert owner_api.post(url, {"pool": fra1_pool.pk}, format="json").status_code == 403
    for body, field in (
        ({"pool": fra1_pool.pk}, "pool"),
        ({"network": fra1_pool.network_id}, "network"),
        ({"address": "203.0.113.15"}, "address"),
    ):
        response = admin_api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        message = response.json()[field][0]
        assert "FRA1" in message and "AMS1" in message, message
    assert not IpAddress.objects.exists()


def test_networks_without_a_location_serve_every_location(admin_api, ams1_server, pool):
    response = admin_api.post(ips_url(ams1_server), {"pool": pool.pk}, format="json")
    assert response.status_code == 201, response.content


def test_staff_cannot_move_an_address_to_a_server_elsewhere_in_the_admin(
    client, admin, ams1_server, fra1_pool
):
    here = make_server(actor=admin, rack=make_rack(location=fra1_pool.network.location), unit=1)
    ip = ipam.allocate_ip(actor=admin, server=here, pool=fra1_pool)
    client.force_login(admin)
    response = client.post(
        f"/admin/inventory/ipaddress/{ip.pk}/change/",
        {"server": ams1_server.pk, "is_main": "on", "status": "allocated"},
    )
    assert response.status_code == 200
    assert "FRA1" in response.content.decode() and "AMS1" in response.content.decode()
    assert IpAddress.objects.get(pk=ip.pk).server == here
