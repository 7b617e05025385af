"""50 concurrent allocations against one pool, in real PostgreSQL transactions."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from inventory.models import IpAddress
from panel import services as people
from tests.concurrency import all_at_once
from tests.factories import make_pool, make_server, make_user

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="race test needs PostgreSQL (DATABASE_URL)"
)

WORKERS = 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool_size", [WORKERS, WORKERS - 10])
def test_concurrent_allocations_never_duplicate(pool_size):
    admin = make_user("admin")
    _, key = people.create_api_token(actor=None, user=admin)
    last_octet = 10 + pool_size - 1
    pool = make_pool(cidr="192.0.2.0/24", first="192.0.2.10", last=f"192.0.2.{last_octet}")
    servers = [make_server(actor=admin) for _ in range(WORKERS)]

    def request_for(server):
        def call():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            return client.post(
                f"/api/v1/servers/{server.pk}/ips/", {"pool": pool.pk}, format="json"
            )

        return call

    answers = all_at_once([request_for(s) for s in servers])
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * pool_size + [409] * (WORKERS - pool_size)
    addresses = [a.json()["address"] for a in answers if a.status_code == 201]
    assert len(set(addresses)) == pool_size
    assert IpAddress.objects.filter(pool=pool).count() == pool_size
    assert IpAddress.objects.filter(pool=pool, is_main=True).count() == pool_size
