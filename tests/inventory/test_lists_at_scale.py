"""Lists a billing system or a customer reads cost the same number of queries whatever the
fleet's size, search by index (name prefix, exact address or MAC), page by cursor, and keep
free counts exact."""

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import ipam
from inventory.models import HardwareProfile, IpPool, Server
from provisioning.models import Operation
from tests.conftest import token_client
from tests.factories import make_pool, make_profile, make_server, make_user

LISTS = [
    "/api/v1/servers/?page_size=500",
    "/api/v1/servers/?page_size=500&search=srv",
    "/api/v1/servers/?page_size=500&free=false",
    "/api/v1/servers/?page_size=500&cursor=",
    "/api/v1/configurations/?page_size=500",
    "/api/v1/ips/?page_size=500",
    "/api/v1/operations/?page_size=500",
    "/api/v1/operations/?page_size=500&cursor=",
    "/api/dci/v3/server?limit=0,500",
]


def _grow(fleet: list[Server], size: int, admin, customer) -> None:
    """Servers to `size`, every other one owned, with an address and an operation each."""
    pool = IpPool.objects.first() or make_pool(
        cidr="10.20.0.0/16", first="10.20.0.1", last="10.20.255.254"
    )
    for n in range(len(fleet), size):
        server = make_server(actor=admin, owner=customer if n % 2 else None)
        ipam.allocate_ip(actor=admin, server=server, pool=pool)
        Operation.objects.create(server=server, kind="power_on", state="succeeded")
        fleet.append(server)


def _queries(api, path: str) -> int:
    api.get(path)  # a token's or session's first use of the interval writes; not the list's
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.django_db
def test_every_list_costs_the_same_queries_for_10_servers_and_200(admin, customer):
    api, fleet = token_client(admin), []
    _grow(fleet, 10, admin, customer)
    small = {path: _queries(api, path) for path in LISTS}
    _grow(fleet, 200, admin, customer)
    assert {path: _queries(api, path) for path in LISTS} == small


@pytest.mark.django_db
def test_the_customers_lists_cost_the_same_queries_for_10_servers_and_200(admin, customer, client):
    api, fleet = token_client(customer), []
    client.force_login(customer)
    paths = ["/api/v1/servers/?page_size=500", "/api/v1/ips/?page_size=500"]
    _grow(fleet, 20, admin, customer)
    small = [_queries(api, path) for path in paths] + [_queries(client, "/servers/")]
    _grow(fleet, 200, admin, customer)
    assert [_queries(api, path) for path in paths] + [_queries(client, "/servers/")] == small


def test_search_is_a_name_prefix_in_any_case_or_an_exact_address_or_mac(admin_api, admin):
    web = make_server(name="web-frankfurt-1", mac="02:00:00:aa:00:01")
    make_server(name="db-frankfurt-1")
    pool = make_pool()
    address = ipam.allocate_ip(actor=admin, server=web, pool=pool).address

    def found(term: str) -> list[str]:
        response = admin_api.get("/api/v1/servers/", {"search": term})
        assert response.status_code == 200, response.content
        return [server["name"] for server in response.json()["results"]]

    assert found("WEB-fr") == ["web-frankfurt-1"]
    assert found("frankfurt") == []  # the middle of a name is not a prefix
    assert found(address) == ["web-frankfurt-1"]
    assert found(address[:-1]) == []  # an address matches whole
    assert found("02-00-00-AA-00-01") == ["web-frankfurt-1"]


def test_a_server_with_several_matching_addresses_is_listed_once(admin_api, admin):
    server = make_server(name="multi-1")
    pool = make_pool()
    first = ipam.allocate_ip(actor=admin, server=server, pool=pool)
    ipam.allocate_ip(actor=admin, server=server, pool=pool)

    for query in ({"ip": first.address}, {"search": first.address}, {"search": "multi"}):
        body = admin_api.get("/api/v1/servers/", query).json()
        assert [row["name"] for row in body["results"]] == ["multi-1"], query
        assert body["count"] == 1


def test_free_counts_agree_with_the_servers_free_to_sell(admin, customer, admin_api):
    profiles = [make_profile(), make_profile(), make_profile()]
    for n in range(12):
        server = make_server(profile=profiles[n % 3], owner=customer if n % 4 == 1 else None)
        if n % 5 == 2:
            Server.objects.filter(pk=server.pk).update(state="maintenance")
        if n % 6 == 3:
            Server.objects.filter(pk=server.pk).update(suspended=True)
        if n % 7 == 4:
            server.bmc.reachable = False
            server.bmc.save()
        if n == 6:
            Operation.objects.create(server=server, kind="install", state="running")

    counted = {
        profile.pk: (profile.free_server_count, profile.total_server_count)
        for profile in HardwareProfile.objects.with_server_counts()
    }
    for profile in profiles:
        free = Server.objects.free().filter(profile=profile).count()
        assert counted[profile.pk] == (free, Server.objects.filter(profile=profile).count())
    assert sum(free for free, _ in counted.values()) == Server.objects.free().count() > 0
    listed = admin_api.get("/api/v1/configurations/", {"page_size": 500}).json()["results"]
    mine = {profile.name for profile in profiles}
    assert {row["name"]: row["free_server_count"] for row in listed if row["name"] in mine} == {
        profile.name: counted[profile.pk][0] for profile in profiles
    }


def _walk(api, path: str) -> list[int]:
    ids, url = [], f"{path}&cursor="
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        ids += [row["id"] for row in response.json()["results"]]
        url = response.json()["next"]
    return ids


def test_a_sync_client_pages_every_server_and_operation_once_by_cursor(admin_api, admin):
    servers = [make_server() for _ in range(7)]
    for server in servers:
        Operation.objects.create(server=server, kind="power_on", state="succeeded")

    server_ids = _walk(admin_api, "/api/v1/servers/?page_size=3")
    assert server_ids == sorted(server.pk for server in servers)
    operation_ids = _walk(admin_api, "/api/v1/operations/?page_size=3")
    assert operation_ids == sorted(Operation.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        "cursor=not-base64!",
        f"cursor={base64.b64encode(b'p=abc').decode()}",
        "cursor=&page=2",
        "cursor=&ordering=name",
    ],
)
def test_a_cursor_the_list_did_not_give_out_is_a_400(admin_api, query):
    make_server()
    response = admin_api.get(f"/api/v1/servers/?{query}")
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()


def test_a_customer_pages_only_their_own_servers_by_cursor(customer, other_customer):
    mine = make_server(owner=customer)
    make_server(owner=other_customer)
    make_server()
    assert _walk(token_client(customer), "/api/v1/servers/?page_size=1") == [mine.pk]
    assert _walk(token_client(make_user("customer")), "/api/v1/servers/?page_size=1") == []


def test_a_deep_page_lists_the_rows_a_plain_offset_would_in_the_same_order(admin_api, admin):
    """Pages past the first read their ids first, then the rows by id (no join of the rows
    skipped): the same rows, in the list's order, and a constant number of queries."""
    for number in range(25):
        make_server(actor=admin, name=f"node-{(number * 7) % 25:02d}")
    expected = sorted(Server.objects.values_list("name", flat=True))
    pages = [
        admin_api.get(f"/api/v1/servers/?page_size=10&page={page}&ordering={order}").json()
        for page in (2, 3)
        for order in ("name", "-name")
    ]
    assert [row["name"] for row in pages[0]["results"]] == expected[10:20]
    assert [row["name"] for row in pages[1]["results"]] == expected[::-1][10:20]
    assert [row["name"] for row in pages[2]["results"]] == expected[20:]
    assert pages[2]["count"] == 25
    assert _queries(admin_api, "/api/v1/servers/?page_size=10&page=2") == _queries(
        admin_api, "/api/v1/servers/?page_size=10&page=3"
    )
