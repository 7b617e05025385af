"""GET /api/v1/servers/{id}/traffic/ and GET /api/v1/traffic/?month=: who sees what, strict
parameters, bounded queries."""

from datetime import date

import pytest

from network.models import TrafficMonth
from tests.factories import make_server
from tests.network.test_traffic_math import IN, OUT, P95_IN, P95_OUT
from tests.network.traffic import feed, make_port

DAY = {"from": "2026-11-03", "to": "2026-11-03"}


def traffic_url(server):
    return f"/api/v1/servers/{server.pk}/traffic/"


@pytest.fixture
def fed(data_port, owned_server):
    feed(data_port, IN, OUT)
    return owned_server


def test_anonymous_gets_401(anonymous_api, fed):
    assert anonymous_api.get(traffic_url(fed), DAY).status_code == 401
    assert anonymous_api.get("/api/v1/traffic/").status_code == 401


def test_another_customer_gets_the_404_of_a_missing_server(other_api, fed):
    assert other_api.get(traffic_url(fed), DAY).status_code == 404


def test_the_owner_reads_rates_volume_and_95th(owner_api, fed, data_port):
    response = owner_api.get(traffic_url(fed), DAY)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["from"] == "2026-11-03T00:00:00Z" and body["to"] == "2026-11-04T00:00:00Z"
    assert body["volume"] == {
        "in_bytes": sum(IN),
        "out_bytes": sum(OUT),
        "total_bytes": sum(IN) + sum(OUT),
        "exact": True,
    }
    assert body["p95"] == {"in_bps": P95_IN, "out_bps": P95_OUT, "max_bps": P95_OUT}
    assert body["samples"] == {"present": 20, "expected": 288}
    assert body["step_seconds"] == 300
    assert body["rates"][144] == {"time": "2026-11-03T12:00:00Z", "in_bps": 40.0, "out_bps": 320.0}
    assert body["rates"][0] == {"time": "2026-11-03T00:00:00Z", "in_bps": None, "out_bps": None}
    assert body["ports"] == [
        {"id": data_port.pk, "switch": data_port.switch.name, "name": data_port.name}
    ]


def test_staff_read_any_servers_traffic(admin_api, fed):
    response = admin_api.get(traffic_url(fed), {"from": "2026-11-03T12:00:00+01:00"})
    assert response.status_code == 200
    assert response.json()["from"] == "2026-11-03T11:00:00Z"


def test_the_default_range_is_the_current_month(owner_api, fed):
    body = owner_api.get(traffic_url(fed)).json()
    assert body["from"].endswith("-01T00:00:00Z") and body["to"].endswith("-01T00:00:00Z")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "2026-11-03T12:00:00+25:00"}, "from"),
        ({"from": "2026-02-30T00:00:00"}, "from"),
        ({"from": "2026-11-05", "to": "2026-11-04"}, "to"),
        ({"from": "2025-01-01", "to": "2026-11-01"}, "to"),  # more than 400 days
        ({"form": "2026-11-01"}, "form"),
        ({"page": "2"}, "page"),
    ],
)
def test_bad_or_unknown_parameters_are_a_clear_400(owner_api, fed, query, field):
    response = owner_api.get(traffic_url(fed), query)
    assert response.status_code == 400
    assert field in response.json()


def test_a_server_id_too_large_for_the_database_is_a_404(owner_api):
    assert owner_api.get(f"/api/v1/servers/{'9' * 30}/traffic/").status_code == 404


def test_customers_cannot_read_the_month_list(owner_api, fed):
    assert owner_api.get("/api/v1/traffic/", {"month": "2026-11"}).status_code == 403


def test_staff_read_every_server_of_the_month_in_bounded_queries(
    admin, admin_api, customer, fed, django_assert_max_num_queries
):
    for n in range(5):
        server = make_server(actor=admin, owner=customer if n % 2 else None)
        feed(make_port(server), [3000 * (n + 1)] * 3, [600] * 3)
    make_server(actor=admin)  # no traffic: not listed
    with django_assert_max_num_queries(7):
        response = admin_api.get("/api/v1/traffic/", {"month": "2026-11", "page_size": 4})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 6 and len(body["results"]) == 4
    first = next(row for row in body["results"] if row["id"] == fed.pk)
    assert first["owner"] == {"id": customer.pk, "email": customer.email}
    assert first["p95"] == {"in_bps": P95_IN, "out_bps": P95_OUT, "max_bps": P95_OUT}
    assert first["volume"]["total_bytes"] == sum(IN) + sum(OUT)
    assert first["samples"]["present"] == 20
    with django_assert_max_num_queries(7):
        second = admin_api.get("/api/v1/traffic/", {"month": "2026-11", "page": 2, "page_size": 4})
    assert len(second.json()["results"]) == 2


def test_an_ended_month_is_listed_from_its_rollups(admin_api, fed):
    TrafficMonth.objects.create(
        server=fed,
        month=date(2025, 6, 1),
        bytes_in=10,
        bytes_out=20,
        p95_in_bps=1,
        p95_out_bps=2,
        samples_present=8000,
        samples_expected=8640,
    )
    body = admin_api.get("/api/v1/traffic/", {"month": "2025-06"}).json()
    assert [row["id"] for row in body["results"]] == [fed.pk]
    assert body["results"][0]["p95"]["max_bps"] == 2
    assert body["results"][0]["samples"] == {"present": 8000, "expected": 8640}


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "0000-01", "9999-12"])
def test_a_bad_month_is_a_clear_400(admin_api, month):
    response = admin_api.get("/api/v1/traffic/", {"month": month})
    assert response.status_code == 400
    assert "month" in response.json()


def test_the_month_list_refuses_unknown_parameters(admin_api):
    response = admin_api.get("/api/v1/traffic/", {"ordering": "name"})
    assert response.status_code == 400
    assert "ordering" in response.json()


def test_a_new_owner_sees_the_servers_traffic_from_when_it_became_theirs(
    admin, admin_api, owner_api, other_customer, fed
):
    """fed's traffic (2026-11-03, 12:00-13:40 UTC) was its first tenant's; then it changed hands."""
    from datetime import UTC, datetime

    from inventory import services
    from tests.conftest import token_client

    services.release_owner(actor=admin, server=fed)
    services.assign_owner(actor=admin, server=fed, owner=other_customer)
    fed.refresh_from_db()
    assert fed.owner_since > datetime(2026, 11, 3, 14, tzinfo=UTC)
    new_owner = token_client(other_customer)

    theirs = new_owner.get(traffic_url(fed), DAY).json()

    assert theirs["volume"]["total_bytes"] == 0
    assert all(point["in_bps"] is None for point in theirs["rates"])
    assert admin_api.get(traffic_url(fed), DAY).json()["volume"]["in_bytes"] == sum(IN)
    assert owner_api.get(traffic_url(fed), DAY).status_code == 404  # no longer theirs
    row = admin_api.get("/api/v1/traffic/", {"month": "2026-11"}).json()["results"][0]
    assert row["owner"]["email"] == other_customer.email and row["owner_since"]
