from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from panel.models import ApiToken
from tests.conftest import token_client


def client_with(key: str, remote_addr: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=remote_addr)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_wrong_or_malformed_token_is_refused(db):
    for key in ("nonsense", "abcd.efgh", "", "a.b.c"):
        assert client_with(key).get("/api/v1/servers/").status_code == 401


def test_only_the_hash_of_a_token_is_stored(customer, capsys):
    call_command("create_api_token", customer.email)
    key = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=customer)
    assert key.split(".")[1] not in token.secret_hash
    assert client_with(key).get("/api/v1/servers/").status_code == 200


def test_a_read_token_cannot_write(admin):
    api = token_client(admin, scope="read")
    assert api.get("/api/v1/users/").status_code == 200
    response = api.post("/api/v1/users/", {"email": "x@example.test"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_an_expired_token_is_refused(customer):
    api = token_client(customer, expires_days=1)
    ApiToken.objects.filter(user=customer).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.get("/api/v1/servers/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_bound_to_a_network_is_refused_elsewhere(customer, capsys):
    call_command(
        "create_api_token",
        customer.email,
        "--allow-cidr",
        "10.1.0.0/16",
        "--allow-cidr",
        "192.0.2.7",
    )
    key = capsys.readouterr().out.strip()
    assert client_with(key, "10.1.2.3").get("/api/v1/servers/").status_code == 200
    assert client_with(key, "192.0.2.7").get("/api/v1/servers/").status_code == 200
    refused = client_with(key, "10.2.0.1").get("/api/v1/servers/")
    assert refused.status_code == 401
    assert "10.2.0.1" in refused.json()["detail"]


def test_the_token_of_an_inactive_user_is_refused(customer):
    api = token_client(customer)
    customer.is_active = False
    customer.save()
    assert api.get("/api/v1/servers/").status_code == 401


def test_last_use_is_recorded(customer):
    api = token_client(customer)
    api.get("/api/v1/servers/")
    token = ApiToken.objects.get(user=customer)
    assert token.last_used_at is not None
    assert token.last_used_ip == "127.0.0.1"


def test_create_api_token_command_options_and_errors(customer, capsys):
    call_command(
        "create_api_token", customer.email.upper(), "--scope", "read", "--expires-days", "30"
    )
    token = ApiToken.objects.get(user=customer)
    assert token.scope == "read"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "cannot be shown again" in capsys.readouterr().err
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "nobody@example.test")
    with pytest.raises(CommandError, match="not an IP network"):
        call_command("create_api_token", customer.email, "--allow-cidr", "10.0.0.0/33")
    with pytest.raises(CommandError, match="at least one day"):
        call_command("create_api_token", customer.email, "--expires-days", "0")
