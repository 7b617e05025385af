"""Staff manage a customer's SSH keys and API tokens (a billing system sets up its customers)."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from rest_framework.test import APIClient

from panel import services as people
from panel.models import ApiToken, AuditEvent, IdempotencyRecord, SshKey
from tests.factories import ECDSA, ED25519, FINGERPRINT


def keys_url(user, key=None):
    return f"/api/v1/users/{user.pk}/ssh-keys/" + (f"{key.pk}/" if key else "")


def tokens_url(user, token=None):
    return f"/api/v1/users/{user.pk}/api-tokens/" + (f"{token.pk}/" if token else "")


@pytest.fixture
def saved_key(admin, customer):
    return people.add_ssh_key(actor=admin, user=customer, public_key=ED25519)


@pytest.fixture
def token(customer):
    return people.create_api_token(actor=None, user=customer, name="billing")[0]


def test_anonymous_gets_401(anonymous_api, customer, saved_key, token):
    for url in (keys_url(customer), tokens_url(customer)):
        assert anonymous_api.get(url).status_code == 401
        assert anonymous_api.post(url, {}, format="json").status_code == 401
    assert anonymous_api.delete(keys_url(customer, saved_key)).status_code == 401
    assert anonymous_api.delete(tokens_url(customer, token)).status_code == 401


@pytest.mark.parametrize("whose", ["own", "other"])
def test_customers_cannot_reach_them_for_themselves_or_others(
    owner_api, customer, other_customer, whose
):
    user = customer if whose == "own" else other_customer
    key = people.add_ssh_key(actor=user, public_key=ED25519)
    token = people.create_api_token(actor=user, user=user)[0]
    assert owner_api.get(keys_url(user)).status_code == 403
    assert owner_api.post(keys_url(user), {"public_key": ECDSA}, format="json").status_code == 403
    assert owner_api.delete(keys_url(user, key)).status_code == 403
    assert owner_api.get(tokens_url(user)).status_code == 403
    assert owner_api.post(tokens_url(user), {"name": "x"}, format="json").status_code == 403
    assert owner_api.delete(tokens_url(user, token)).status_code == 403
    assert SshKey.objects.filter(user=user).count() == 1
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_staff_add_a_key_for_a_customer_audited_as_theirs(admin_api, admin, customer):
    response = admin_api.post(keys_url(customer), {"public_key": ED25519}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["fingerprint"] == FINGERPRINT
    key = SshKey.objects.get()
    assert key.user == customer
    event = AuditEvent.objects.get(action="sshkey.add")
    assert event.actor == admin and event.detail["user"] == customer.email


def test_staff_list_a_customers_keys_only(admin_api, admin, customer, other_customer, saved_key):
    people.add_ssh_key(actor=other_customer, public_key=ECDSA)
    people.add_ssh_key(actor=customer, public_key=ECDSA)
    for number in range(3):
        people.add_ssh_key(actor=admin, user=customer, public_key=_another_key(number))
    response = admin_api.get(keys_url(customer))
    assert response.status_code == 200
    assert response.json()["count"] == 5
    names = {row["name"] for row in response.json()["results"]}
    assert names == {"alice@laptop", "root@vm", "key-0", "key-1", "key-2"}


def test_listing_keys_costs_a_bounded_number_of_queries(
    admin_api, admin, customer, django_assert_max_num_queries
):
    for number in range(10):
        people.add_ssh_key(actor=admin, user=customer, public_key=_another_key(number))
    with django_assert_max_num_queries(8):
        assert admin_api.get(keys_url(customer)).json()["count"] == 10


def test_a_duplicate_key_for_the_customer_is_a_field_error(admin_api, customer, saved_key):
    response = admin_api.post(keys_url(customer), {"public_key": ED25519}, format="json")
    assert response.status_code == 400
    assert response.json() == {"public_key": ["This user already has this key."]}


def test_staff_delete_a_customers_key(admin_api, customer, saved_key):
    assert admin_api.delete(keys_url(customer, saved_key)).status_code == 204
    assert not SshKey.objects.exists()
    assert AuditEvent.objects.get(action="sshkey.delete").detail["user"] == customer.email


def test_a_key_is_reached_only_under_its_own_user(admin_api, other_customer, saved_key):
    assert admin_api.delete(keys_url(other_customer, saved_key)).status_code == 404
    assert SshKey.objects.filter(pk=saved_key.pk).exists()


def test_an_unknown_user_is_a_404(admin_api):
    assert admin_api.get("/api/v1/users/999999/ssh-keys/").status_code == 404
    assert admin_api.get("/api/v1/users/999999/api-tokens/").status_code == 404
    body = {"public_key": ED25519}
    assert admin_api.post("/api/v1/users/999999/ssh-keys/", body).status_code == 404


def test_staff_create_a_token_whose_key_is_shown_once_and_works(admin_api, admin, customer):
    body = {"name": "billing", "scope": "read", "allowed_cidrs": ["127.0.0.1"], "expires_days": 30}
    response = admin_api.post(tokens_url(customer), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["scope"] == "read" and created["allowed_cidrs"] == ["127.0.0.1/32"]
    assert created["key"].startswith(created["prefix"] + ".")
    assert created["expires_at"] is not None
    token = ApiToken.objects.get(pk=created["id"])
    assert token.user == customer and created["key"] not in token.secret_hash
    event = AuditEvent.objects.get(action="apitoken.create", actor=admin)
    assert event.actor == admin and event.detail["user"] == customer.email

    listed = admin_api.get(tokens_url(customer)).json()["results"]
    assert [row["prefix"] for row in listed] == [created["prefix"]]
    assert "key" not in listed[0] and created["key"] not in str(listed)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {created['key']}")
    assert client.get("/api/v1/servers/").status_code == 200


def test_a_token_created_again_under_its_idempotency_key_is_the_same_and_never_stored_in_clear(
    admin_api, customer
):
    def create():
        return admin_api.post(
            tokens_url(customer), {"name": "billing"}, format="json", HTTP_IDEMPOTENCY_KEY="t-1"
        )

    first, retry = create(), create()

    assert retry["Idempotent-Replayed"] == "true" and retry["Cache-Control"] == "no-store"
    assert retry.json() == first.json()
    assert ApiToken.objects.filter(user=customer).count() == 1
    stored = IdempotencyRecord.objects.get(key="t-1").response_body
    assert first.json()["key"] not in str(stored)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "x", "scope": "admin"}, "scope"),
        ({"name": "x", "allowed_cidrs": ["not-a-network"]}, "allowed_cidrs"),
        ({"name": "x", "expires_days": 0}, "expires_days"),
        ({"name": "x", "secret": "mine"}, "secret"),
    ],
)
def test_bad_token_requests_are_field_errors(admin_api, customer, body, field):
    response = admin_api.post(tokens_url(customer), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ApiToken.objects.filter(user=customer).exists()


def test_staff_revoke_a_customers_token(admin_api, customer, token):
    assert admin_api.delete(tokens_url(customer, token)).status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert AuditEvent.objects.get(action="apitoken.revoke").detail["user"] == customer.email


def test_a_token_is_reached_only_under_its_own_user(admin_api, other_customer, token):
    assert admin_api.delete(tokens_url(other_customer, token)).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_listing_tokens_costs_a_bounded_number_of_queries(
    admin_api, customer, django_assert_max_num_queries
):
    for number in range(10):
        people.create_api_token(actor=None, user=customer, name=f"t{number}")
    with django_assert_max_num_queries(8):
        assert admin_api.get(tokens_url(customer)).json()["count"] == 10


def _another_key(number: int) -> str:
    """A fresh Ed25519 public key line, commented key-<number>."""
    public = Ed25519PrivateKey.generate().public_key()
    return f"{public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()} key-{number}"


def test_staff_cannot_revoke_the_token_their_request_is_signed_with(admin_api, admin):
    token = ApiToken.objects.get(user=admin)
    response = admin_api.delete(tokens_url(admin, token))
    assert response.status_code == 409
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert admin_api.get(tokens_url(admin)).status_code == 200
