import pytest

from tests.factories import make_pool, make_profile, make_server


@pytest.mark.parametrize("url", ["/api/v1/networks/", "/api/v1/pools/"])
def test_networks_and_pools_are_for_staff_only(anonymous_api, owner_api, url):
    assert anonymous_api.get(url).status_code == 401
    assert owner_api.get(url).status_code == 403
    assert owner_api.post(url, {}, format="json").status_code == 403


def test_admin_creates_a_network_and_a_pool_and_sees_its_usage(admin_api, admin, free_server):
    network = admin_api.post(
        "/api/v1/networks/",
        {
            "name": "pub",
            "cidr": "203.0.113.0/24",
            "gateway": "203.0.113.1",
            "vlan": 10,
            "dns_servers": ["9.9.9.9"],
        },
        format="json",
    )
    assert network.status_code == 201, network.content
    assert network.json()["family"] == 4
    pool = admin_api.post(
        "/api/v1/pools/",
        {
            "network": network.json()["id"],
            "name": "p1",
            "first_address": "203.0.113.1",
            "last_address": "203.0.113.10",
        },
        format="json",
    )
    assert pool.status_code == 201, pool.content
    assert (pool.json()["size"], pool.json()["used"], pool.json()["free"]) == (9, 0, 9)
    admin_api.post(
        f"/api/v1/servers/{free_server.pk}/ips/", {"pool": pool.json()["id"]}, format="json"
    )
    listed = admin_api.get("/api/v1/pools/").json()["results"][0]
    assert (listed["used"], listed["free"]) == (1, 8)


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "cidr": "203.0.113.5/24"},
        {"name": "x", "cidr": "nonsense"},
        {"name": "x", "cidr": "203.0.113.0/24", "gateway": "198.51.100.1"},
        {"name": "x", "cidr": "203.0.113.0/24", "vlan": 5000},
        {"name": "x", "cidr": "203.0.113.0/24", "dns_servers": ["dns.example"]},
        {"cidr": "203.0.113.0/24"},
    ],
)
def test_bad_networks_are_field_errors(admin_api, payload):
    assert admin_api.post("/api/v1/networks/", payload, format="json").status_code == 400


def test_bad_pools_are_field_errors(admin_api):
    pool = make_pool(first="192.0.2.10", last="192.0.2.20")
    for payload in (
        {
            "network": pool.network_id,
            "name": "b",
            "first_address": "192.0.2.15",
            "last_address": "192.0.2.30",
        },
        {
            "network": pool.network_id,
            "name": "pool",
            "first_address": "192.0.2.50",
            "last_address": "192.0.2.60",
        },
        {
            "network": pool.network_id,
            "name": "c",
            "first_address": "10.0.0.1",
            "last_address": "10.0.0.2",
        },
        {
            "network": 999999,
            "name": "d",
            "first_address": "192.0.2.50",
            "last_address": "192.0.2.60",
        },
    ):
        response = admin_api.post("/api/v1/pools/", payload, format="json")
        assert response.status_code == 400, (payload, response.content)


def test_network_and_pool_lists_take_bounded_queries(admin_api, django_assert_max_num_queries):
    for n in range(10):
        make_pool(
            cidr=f"10.{n}.0.0/24", first=f"10.{n}.0.10", last=f"10.{n}.0.20", gateway=f"10.{n}.0.1"
        )
    with django_assert_max_num_queries(4):
        assert admin_api.get("/api/v1/networks/").json()["count"] == 10
    with django_assert_max_num_queries(4):
        assert admin_api.get("/api/v1/pools/").json()["count"] == 10


def test_configurations_show_free_and_total_servers(
    anonymous_api, owner_api, admin_api, customer, django_assert_max_num_queries
):
    profile = make_profile(name="i9-9900K-64Gb-2x1024NVMe")
    make_server(profile=profile)
    make_server(profile=profile, owner=customer)
    faulty = make_server(profile=profile, state="faulty")
    unreachable = make_server(profile=profile)
    unreachable.bmc.reachable = False
    unreachable.bmc.save()
    for n in range(5):
        make_server(profile=make_profile(name=f"other-{n}"))
    assert anonymous_api.get("/api/v1/configurations/").status_code == 401
    with django_assert_max_num_queries(4):
        response = owner_api.get("/api/v1/configurations/")
    assert response.status_code == 200
    row = next(r for r in response.json()["results"] if r["name"] == profile.name)
    assert (row["free_server_count"], row["total_server_count"]) == (1, 4)
    assert faulty.state == "faulty"
    detail = admin_api.get(f"/api/v1/configurations/{profile.pk}/").json()
    assert detail["free_server_count"] == 1
    assert admin_api.post("/api/v1/configurations/", {}, format="json").status_code == 405


def test_staff_flag_a_boot_network_and_filter_by_it(admin_api):
    made = admin_api.post(
        "/api/v1/networks/",
        {"name": "provisioning", "cidr": "10.20.0.0/24", "boot": True},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["boot"] is True
    admin_api.post("/api/v1/networks/", {"name": "pub", "cidr": "203.0.113.0/24"}, format="json")
    listed = admin_api.get("/api/v1/networks/?boot=true").json()["results"]
    assert [network["name"] for network in listed] == ["provisioning"]
    audit = admin_api.get("/api/v1/audit-events/?action=network.create").json()["results"]
    assert {event["detail"]["boot"] for event in audit} == {True, False}
