import pytest
from rest_framework.response import Response

from inventory import ipam
from inventory.models import IpAddress
from panel.api import idempotency
from panel.models import AuditEvent, IdempotencyRecord
from tests.factories import ED25519, make_pool


def test_a_retried_allocation_happens_once_and_gets_the_first_answer(admin_api, free_server):
    pool = make_pool()
    url = f"/api/v1/servers/{free_server.pk}/ips/"
    first = admin_api.post(url, {"pool": pool.pk}, format="json", HTTP_IDEMPOTENCY_KEY="alloc-1")
    retry = admin_api.post(url, {"pool": pool.pk}, format="json", HTTP_IDEMPOTENCY_KEY="alloc-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert IpAddress.objects.filter(server=free_server).count() == 1
    assert AuditEvent.objects.filter(action="ip.allocate").count() == 1


def test_the_same_key_with_another_body_is_a_conflict(
    admin_api, free_server, customer, other_customer
):
    url = f"/api/v1/servers/{free_server.pk}/owner/"
    assert (
        admin_api.post(
            url, {"owner": customer.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        ).status_code
        == 200
    )
    clash = admin_api.post(
        url, {"owner": other_customer.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert clash.status_code == 409
    assert "different request" in clash.json()["detail"]
    free_server.refresh_from_db()
    assert free_server.owner == customer


def test_errors_are_replayed_too(admin_api, free_server):
    url = f"/api/v1/servers/{free_server.pk}/ips/"
    first = admin_api.post(url, {"pool": 999}, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    retry = admin_api.post(url, {"pool": 999}, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json()


def test_keys_belong_to_their_user(admin_api, owner_api):
    body = {"public_key": ED25519}
    mine = admin_api.post("/api/v1/ssh-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    theirs = owner_api.post("/api/v1/ssh-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_an_expired_key_can_be_used_again(admin_api, free_server):
    pool = make_pool()
    url = f"/api/v1/servers/{free_server.pk}/ips/"
    admin_api.post(url, {"pool": pool.pk}, format="json", HTTP_IDEMPOTENCY_KEY="day-old")
    IdempotencyRecord.objects.update(created_at="2000-01-01T00:00:00Z")
    again = admin_api.post(url, {"pool": pool.pk}, format="json", HTTP_IDEMPOTENCY_KEY="day-old")
    assert again.status_code == 201
    assert IpAddress.objects.filter(server=free_server).count() == 2


def test_a_request_still_in_progress_is_a_conflict(admin_api, admin, free_server):
    pool = make_pool()
    url = f"/api/v1/servers/{free_server.pk}/ips/"
    first = admin_api.post(url, {"pool": pool.pk}, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    IdempotencyRecord.objects.update(response_status=None, response_body=None)
    retry = admin_api.post(url, {"pool": pool.pk}, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    assert first.status_code == 201
    assert retry.status_code == 409
    assert "still being processed" in retry.json()["detail"]


def test_an_overlong_key_is_a_field_error(admin_api, free_server):
    response = admin_api.post(
        f"/api/v1/servers/{free_server.pk}/ips/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 300
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_a_conflict_is_not_stored_so_the_retry_goes_through(
    admin_api, free_server, customer, other_customer
):
    url = f"/api/v1/servers/{free_server.pk}/owner/"
    admin_api.post(url, {"owner": other_customer.pk}, format="json")
    busy = admin_api.post(url, {"owner": customer.pk}, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    assert busy.status_code == 409
    admin_api.delete(url)
    retry = admin_api.post(url, {"owner": customer.pk}, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry
    assert IdempotencyRecord.objects.get(key="b-1").response_status == 200


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        (200, True),
        (201, True),
        (202, True),
        (400, True),
        (403, True),
        (404, True),
        (422, True),
        (409, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_only_answers_that_decided_are_stored(admin, status, stored):
    record = idempotency.claim(user=admin, key=f"k-{status}", fingerprint="f")
    idempotency.settle(record, Response({"detail": "x"}, status=status))
    assert IdempotencyRecord.objects.filter(key=f"k-{status}").exists() == stored


# The DCImanager-compatible login is public and answers a secret, never stored for a replay;
# its logout ends the DCI session it is authenticated by, which no API token is.
DCI_LOGIN, DCI_LOGOUT = "/api/auth/v4/public/token/", "/api/auth/v4/token/"


def test_every_post_documents_the_idempotency_key_header(client):
    schema = client.get("/api/schema/?format=json").json()
    posts = [
        item["post"]
        for path, item in schema["paths"].items()
        if "post" in item
        and path.startswith("/api/")  # not the machines' boot endpoints
        and path != DCI_LOGIN
    ]
    assert len(posts) > 10
    for post in posts:
        headers = [p for p in post.get("parameters", []) if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Idempotency-Key"], post["operationId"]


def test_each_operation_names_token_auth_once(client):
    schema = client.get("/api/schema/?format=json").json()
    api = [
        item
        for path, item in schema["paths"].items()
        if path.startswith("/api/") and path not in {DCI_LOGIN, DCI_LOGOUT}
    ]
    for item in api:
        for operation in item.values():
            names = [name for entry in operation["security"] for name in entry]
            assert names.count("tokenAuth") == 1, operation["operationId"]


def test_a_retried_delete_gets_the_first_answer_not_a_404(admin_api, free_server):
    ip = ipam.allocate_ip(actor=admin_api.user, server=free_server, pool=make_pool())
    url = f"/api/v1/servers/{free_server.pk}/ips/{ip.pk}/"
    first = admin_api.delete(url, HTTP_IDEMPOTENCY_KEY="release-1")
    retry = admin_api.delete(url, HTTP_IDEMPOTENCY_KEY="release-1")
    assert first.status_code == retry.status_code == 204
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action="ip.release").count() == 1
    assert admin_api.delete(url).status_code == 404  # without the key: an ordinary DELETE


def test_the_same_key_on_another_delete_is_a_conflict(admin_api, free_server):
    pool = make_pool()
    first, second = (
        ipam.allocate_ip(actor=admin_api.user, server=free_server, pool=pool) for _ in range(2)
    )
    base = f"/api/v1/servers/{free_server.pk}/ips/"
    assert admin_api.delete(f"{base}{first.pk}/", HTTP_IDEMPOTENCY_KEY="k").status_code == 204
    clash = admin_api.delete(f"{base}{second.pk}/", HTTP_IDEMPOTENCY_KEY="k")
    assert clash.status_code == 409
    assert "different request" in clash.json()["detail"]
    assert IpAddress.objects.filter(pk=second.pk).exists()


def test_a_delete_and_a_post_cannot_share_a_key(admin_api, free_server):
    ip = ipam.allocate_ip(actor=admin_api.user, server=free_server, pool=make_pool())
    url = f"/api/v1/servers/{free_server.pk}/ips/"
    assert admin_api.delete(f"{url}{ip.pk}/", HTTP_IDEMPOTENCY_KEY="one").status_code == 204
    assert admin_api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="one").status_code == 409


def test_the_schema_offers_the_key_on_deletes(client):
    schema = client.get("/api/schema/?format=json").json()
    delete = schema["paths"]["/api/v1/servers/{server_pk}/ips/{id}/"]["delete"]
    assert "Idempotency-Key" in [parameter["name"] for parameter in delete["parameters"]]
