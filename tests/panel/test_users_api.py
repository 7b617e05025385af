import pytest

from panel.models import AuditEvent, TotpDevice, User
from tests.factories import make_server, make_user


def test_users_are_for_staff_only(anonymous_api, owner_api, customer):
    assert anonymous_api.get("/api/v1/users/").status_code == 401
    assert owner_api.get("/api/v1/users/").status_code == 403
    assert owner_api.get(f"/api/v1/users/{customer.pk}/").status_code == 403
    assert owner_api.patch(f"/api/v1/users/{customer.pk}/", {"role": "admin"}).status_code == 403
    assert owner_api.post("/api/v1/users/", {"email": "x@example.test"}).status_code == 403
    customer.refresh_from_db()
    assert customer.role == "customer"


def test_admin_creates_a_customer_with_a_password(admin_api, client):
    response = admin_api.post(
        "/api/v1/users/",
        {
            "email": "New@Example.test",
            "full_name": "New Customer",
            "phone": "+31 20 123",
            "password": "correct-horse-battery",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new@example.test"
    assert body["role"] == "customer"
    assert body["server_count"] == 0
    assert "password" not in body
    assert client.login(username="new@example.test", password="correct-horse-battery")
    assert AuditEvent.objects.filter(action="user.create", target_id=str(body["id"])).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email"},
        {"email": "owner@example.test"},
        {"email": "OWNER@example.test"},
        {"email": "x@example.test", "password": "123"},
        {"email": "x@example.test", "role": "god"},
        {},
    ],
)
def test_bad_users_are_field_errors(admin_api, customer, payload):
    response = admin_api.post("/api/v1/users/", payload, format="json")
    assert response.status_code == 400, response.content


def test_admin_lists_users_with_server_counts_in_bounded_queries(
    admin_api, customer, django_assert_max_num_queries
):
    for _ in range(3):
        make_server(owner=customer)
    for _ in range(10):
        user = make_user()
        TotpDevice.objects.create(user=user, name="app", confirmed=True, encrypted_key="-")
    with django_assert_max_num_queries(4):
        response = admin_api.get("/api/v1/users/?page_size=100")
    rows = {r["email"]: r for r in response.json()["results"]}
    assert rows["owner@example.test"]["server_count"] == 3
    assert len(rows) == 12
    assert sum(row["two_factor_enabled"] for row in rows.values()) == 10
    assert rows["owner@example.test"]["two_factor_enabled"] is False


def test_staff_require_two_factor_login_of_a_user_and_see_whether_it_is_on(admin_api, customer):
    url = f"/api/v1/users/{customer.pk}/"
    assert admin_api.get(url).json()["two_factor_required"] is False
    response = admin_api.patch(url, {"two_factor_required": True}, format="json")
    assert response.status_code == 200
    assert response.json()["two_factor_required"] is True
    assert response.json()["two_factor_enabled"] is False
    customer.refresh_from_db()
    assert customer.two_factor_required
    event = AuditEvent.objects.get(action="user.update")
    assert event.detail == {"changed": ["two_factor_required"]}

    refused = admin_api.patch(url, {"two_factor_enabled": True}, format="json")
    assert refused.status_code == 400
    assert refused.json()["two_factor_enabled"] == ["This field is read-only."]

    created = admin_api.post(
        "/api/v1/users/", {"email": "new@example.test", "two_factor_required": True}, format="json"
    )
    assert created.status_code == 201
    assert (created.json()["two_factor_required"], created.json()["two_factor_enabled"]) == (
        True,
        False,
    )


def test_the_users_schema_documents_the_two_factor_fields(client):
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    fields = schemas["User"]["properties"]
    assert fields["two_factor_enabled"]["readOnly"] is True
    assert "readOnly" not in fields["two_factor_required"]
    assert "two_factor_required" in schemas["UserRequest"]["properties"]
    assert "two_factor_enabled" not in schemas["UserRequest"]["properties"]


def test_admin_updates_a_user_and_resets_their_password(admin_api, customer, client):
    response = admin_api.patch(
        f"/api/v1/users/{customer.pk}/",
        {"full_name": "Renamed", "password": "another-long-password"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Renamed"
    assert client.login(username=customer.email, password="another-long-password")
    event = AuditEvent.objects.get(action="user.update")
    assert event.detail == {"changed": ["full_name", "password"]}
    assert "another-long-password" not in str(event.detail)


def test_an_admin_cannot_demote_or_deactivate_themselves(admin_api, admin):
    for change in ({"role": "customer"}, {"is_active": False}):
        assert (
            admin_api.patch(f"/api/v1/users/{admin.pk}/", change, format="json").status_code == 409
        )
    assert User.objects.get(pk=admin.pk).is_admin


def test_unknown_user_is_404(admin_api):
    assert admin_api.get("/api/v1/users/999999/").status_code == 404
