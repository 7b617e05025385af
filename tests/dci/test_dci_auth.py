"""Logging in to the DCImanager-compatible API, using its session, logging out, and its
error envelope."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dci import sessions
from dci.models import DciSession
from panel.models import AuditEvent, FailedLogin
from tests.conftest import token_client

pytestmark = pytest.mark.urls("tests.dci.urls")

PASSWORD = "a-long-test-password"
LOGIN, LOGOUT, WHOAMI, PORTAL_LOGIN = (
    "/api/auth/v4/public/token",
    "/api/auth/v4/token",
    "/test/dci/whoami",
    "/login/",
)


def log_in(client, email: str, password: str = PASSWORD, **extra):
    return client.post(
        LOGIN, {"email": email, "password": password, **extra}, content_type="application/json"
    )


def token_of(client, user) -> str:
    response = log_in(client, user.email)
    assert response.status_code == 201, response.content
    return response.json()["token"]


def error_of(response) -> dict:
    return response.json()["error"]


# Logging in


def test_the_right_credentials_get_a_token_that_works_as_cookie_and_as_header(client, customer):
    response = log_in(client, customer.email)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    token = body["token"]

    by_header = client.get(WHOAMI, headers={"x-xsrf-token": token})
    assert by_header.json() == {"email": customer.email, "auth": "DciSession"}
    client.cookies["ses6"] = token
    assert client.get(WHOAMI).json() == {"email": customer.email, "auth": "DciSession"}


def test_clients_send_the_cookie_the_header_and_isp_box_instance_together(client, admin):
    token = token_of(client, admin)
    client.cookies["ses6"] = token
    headers = {"x-xsrf-token": token, "isp-box-instance": "true"}
    assert client.post(WHOAMI, headers=headers).json()["email"] == admin.email


def test_the_login_path_also_answers_with_a_trailing_slash(client, customer):
    response = client.post(
        LOGIN + "/", {"email": customer.email, "password": PASSWORD}, "application/json"
    )
    assert response.status_code == 201


def test_a_wrong_password_is_a_401_in_the_dci_envelope(client, customer):
    response = log_in(client, customer.email, "guess")
    assert response.status_code == 401
    assert error_of(response) == {"code": 401, "msg": "Wrong email or password.", "value": None}
    assert not DciSession.objects.exists()


def test_an_inactive_user_cannot_log_in(client, customer):
    customer.is_active = False
    customer.save()
    assert log_in(client, customer.email).status_code == 401


def test_an_unknown_body_field_is_a_400_naming_it(client, customer):
    response = log_in(client, customer.email, lang="en")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 400
    assert "lang" in error["msg"]
    assert error["value"] == {"lang": ["Unknown field."]}
    assert not DciSession.objects.exists()


def test_a_missing_field_is_a_400_naming_it(client):
    response = client.post(LOGIN, {"email": "x@example.test"}, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["value"] == {"password": ["This field is required."]}


def test_the_login_needs_no_csrf_cookie_nor_session(customer):
    strict = Client(enforce_csrf_checks=True)
    assert log_in(strict, customer.email).status_code == 201


# One throttle for every password login


def test_failures_at_the_portal_refuse_even_the_right_password_here(client, customer, settings):
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        client.post(PORTAL_LOGIN, {"username": customer.email, "password": "guess"})
    response = log_in(client, customer.email)
    assert response.status_code == 429
    assert "Too many failed logins" in error_of(response)["msg"]
    assert int(response["Retry-After"]) > 0
    assert not DciSession.objects.exists()


def test_failures_here_refuse_the_portal_login(client, customer, settings):
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 3
    answers = [log_in(client, customer.email, "guess").status_code for _ in range(3)]
    assert answers == [401, 401, 429]  # the third failure reaches the limit
    assert FailedLogin.objects.filter(email=customer.email).count() == 3
    portal = client.post(PORTAL_LOGIN, {"username": customer.email, "password": PASSWORD})
    assert "Too many failed logins" in portal.content.decode()
    assert log_in(client, customer.email).status_code == 429


def test_a_login_below_the_limit_clears_the_failures(client, customer):
    log_in(client, customer.email, "guess")
    assert log_in(client, customer.email).status_code == 201
    assert not FailedLogin.objects.filter(email=customer.email).exists()


# Using the session


def test_without_credentials_a_dci_view_answers_401_in_the_envelope(client):
    response = client.get(WHOAMI)
    assert response.status_code == 401
    assert error_of(response) == {
        "code": 401,
        "msg": "Authentication credentials were not provided.",
        "value": None,
    }
    assert response["WWW-Authenticate"].startswith("ses6")


def test_an_unknown_token_is_401(client, db):
    response = client.get(WHOAMI, headers={"x-xsrf-token": "deadbeef.not-a-secret"})
    assert response.status_code == 401
    assert "log in again" in error_of(response)["msg"]


def test_an_expired_session_is_401(client, customer):
    token = token_of(client, customer)
    DciSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(WHOAMI, headers={"x-xsrf-token": token}).status_code == 401


def test_use_moves_the_expiry_but_never_past_the_maximum_age(client, customer, settings):
    settings.PANEL_DCI_SESSION_SECONDS = 600
    settings.PANEL_DCI_SESSION_MAX_SECONDS = 900
    token = token_of(client, customer)
    started = timezone.now() - timedelta(seconds=800)
    DciSession.objects.update(created_at=started, expires_at=timezone.now() + timedelta(seconds=5))
    assert client.get(WHOAMI, headers={"x-xsrf-token": token}).status_code == 200
    session = DciSession.objects.get()
    assert session.expires_at == started + timedelta(seconds=900)
    assert session.last_used_ip == "127.0.0.1"


def test_a_user_deactivated_after_logging_in_is_401(client, customer):
    token = token_of(client, customer)
    customer.is_active = False
    customer.save()
    assert client.get(WHOAMI, headers={"x-xsrf-token": token}).status_code == 401


def test_a_write_authenticated_by_the_cookie_alone_is_refused(client, customer):
    client.cookies["ses6"] = token_of(client, customer)
    response = client.post(WHOAMI)
    assert response.status_code == 403
    assert error_of(response)["msg"].startswith("CSRF")
    assert client.delete(LOGOUT).status_code == 403
    assert client.delete(LOGOUT, headers={"x-xsrf-token": ""}).status_code == 403
    assert DciSession.objects.get().revoked_at is None


def test_a_read_by_the_cookie_alone_is_allowed(client, customer):
    client.cookies["ses6"] = token_of(client, customer)
    assert client.get(WHOAMI).status_code == 200


def test_a_dci_session_may_write_and_a_read_only_api_token_may_only_read(client, customer):
    token = token_of(client, customer)
    assert client.post(WHOAMI, headers={"x-xsrf-token": token}).status_code == 200
    read_only = token_client(customer, scope="read")
    assert read_only.get(WHOAMI).json() == {"email": customer.email, "auth": "ApiToken"}
    refused = read_only.post(WHOAMI)
    assert refused.status_code == 403
    assert error_of(refused)["msg"] == "This token is read-only."


def test_an_unknown_query_parameter_is_a_400_in_the_envelope(client, customer):
    headers = {"x-xsrf-token": token_of(client, customer)}
    assert client.get(WHOAMI + "?verbose=1", headers=headers).status_code == 200
    response = client.get(WHOAMI + "?verbose=1&fields=all", headers=headers)
    assert response.status_code == 400
    assert error_of(response)["value"] == {"fields": ["Unknown query parameter."]}
    assert "fields" in error_of(response)["msg"]


# Logging out and revoking


def test_logging_out_ends_the_session(client, customer):
    token = token_of(client, customer)
    headers = {"x-xsrf-token": token}
    assert client.delete(LOGOUT, headers=headers).status_code == 204
    assert client.get(WHOAMI, headers=headers).status_code == 401
    assert client.delete(LOGOUT + "/", headers=headers).status_code == 401


def test_logging_out_anonymously_is_401(client):
    assert client.delete(LOGOUT).status_code == 401


def test_logging_out_ends_only_ones_own_session(client, customer, other_customer, admin):
    mine, theirs, staffs = (token_of(client, user) for user in (customer, other_customer, admin))
    assert client.delete(LOGOUT, headers={"x-xsrf-token": mine}).status_code == 204
    for token in (theirs, staffs):
        assert client.get(WHOAMI, headers={"x-xsrf-token": token}).status_code == 200


def test_an_api_token_cannot_log_out_a_dci_session(customer):
    assert token_client(customer).delete(LOGOUT).status_code == 401


def test_staff_revoke_sessions_from_the_admin(client, customer, admin):
    token = token_of(client, customer)
    session = DciSession.objects.get()
    client.force_login(admin)
    response = client.post(
        "/admin/dci/dcisession/",
        {"action": "revoke", "_selected_action": [session.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Sessions revoked: 1." in response.content.decode()
    assert DciSession.objects.get().revoked_at is not None
    assert client.get(WHOAMI, headers={"x-xsrf-token": token}).status_code == 401
    event = AuditEvent.objects.get(action="dci.session.revoke")
    assert event.actor == admin


def test_the_admin_lists_sessions_and_offers_no_add(client, customer, admin):
    token_of(client, customer)
    client.force_login(admin)
    page = client.get("/admin/dci/dcisession/?q=owner@")
    assert customer.email in page.content.decode()
    assert client.get("/admin/dci/dcisession/add/").status_code == 403


def test_ended_sessions_are_deleted_by_a_later_login(client, customer):
    token_of(client, customer)
    long_ago = timezone.now() - sessions.KEEP_ENDED - timedelta(minutes=1)
    DciSession.objects.update(expires_at=long_ago)
    token_of(client, customer)
    assert DciSession.objects.count() == 1


# Secrets and audit


def test_the_token_is_kept_only_as_its_hash_and_never_audited(client, customer):
    token = token_of(client, customer)
    client.delete(LOGOUT, headers={"x-xsrf-token": token})
    session = DciSession.objects.get()
    prefix, secret = token.split(".")
    assert session.prefix == prefix
    assert secret not in session.secret_hash
    stored = [str(value) for value in DciSession.objects.values_list().get()]
    assert not [value for value in stored if secret in value]
    details = [str(event.detail) for event in AuditEvent.objects.all()]
    assert details
    assert not [detail for detail in details if secret in detail]


def test_opening_and_ending_a_session_are_audited(client, customer):
    token = token_of(client, customer)
    client.delete(LOGOUT, headers={"x-xsrf-token": token})
    events = AuditEvent.objects.filter(target_type="dci.dcisession").order_by("id")
    assert [(event.action, event.actor) for event in events] == [
        ("dci.session.open", customer),
        ("dci.session.revoke", customer),
    ]
    assert events[0].source_ip == "127.0.0.1"


def test_revoking_twice_records_it_once(customer):
    session, _ = sessions.open_session(actor=customer, source_ip=None)
    sessions.revoke_session(actor=customer, session=session)
    sessions.revoke_session(actor=customer, session=session)
    assert AuditEvent.objects.filter(action="dci.session.revoke").count() == 1


# Documentation


def test_the_schema_documents_the_login_under_the_dci_tag(client):
    schema = client.get("/api/schema/?format=json").json()
    login = schema["paths"]["/api/auth/v4/public/token/"]["post"]
    assert login["tags"] == ["DCImanager v3 compatible"]
    assert "201" in login["responses"]
    assert "429" in login["responses"]
    assert "delete" in schema["paths"]["/api/auth/v4/token/"]


def test_a_dci_view_replays_a_post_retried_with_the_same_idempotency_key(client, customer):
    headers = {"x-xsrf-token": token_of(client, customer), "Idempotency-Key": "retry-1"}
    first = client.post(WHOAMI, {}, content_type="application/json", headers=headers)
    again = client.post(WHOAMI, {}, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
