from panel.models import AuditEvent
from tests.factories import make_user


def owner_url(server):
    return f"/api/v1/servers/{server.pk}/owner/"


def test_anonymous_cannot_assign(anonymous_api, free_server, customer):
    assert anonymous_api.post(owner_url(free_server), {"owner": customer.pk}).status_code == 401


def test_customers_cannot_assign_or_release(
    owner_api, other_api, owned_server, free_server, customer
):
    # A server they cannot see is a 404, as if it did not exist; their own one a 403.
    assert owner_api.post(owner_url(free_server), {"owner": customer.pk}).status_code == 404
    assert owner_api.delete(owner_url(owned_server)).status_code == 403
    assert other_api.delete(owner_url(owned_server)).status_code == 404
    owned_server.refresh_from_db()
    assert owned_server.owner == customer


def test_admin_assigns_a_free_server_and_it_is_audited(admin_api, free_server, customer):
    response = admin_api.post(owner_url(free_server), {"owner": customer.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] == {"id": customer.pk, "email": customer.email}
    event = AuditEvent.objects.get(action="server.assign_owner")
    assert event.detail == {"owner": customer.email}
    assert event.target_id == str(free_server.pk)


def test_assigning_an_owned_server_to_someone_else_is_a_conflict(
    admin_api, owned_server, other_customer
):
    response = admin_api.post(owner_url(owned_server), {"owner": other_customer.pk}, format="json")
    assert response.status_code == 409
    assert "release it first" in response.json()["detail"]


def test_servers_are_assigned_only_to_active_customers(admin_api, free_server, admin):
    inactive = make_user(is_active=False)
    for owner in (admin, inactive):
        response = admin_api.post(owner_url(free_server), {"owner": owner.pk}, format="json")
        assert response.status_code == 400
        assert "owner" in response.json()
    assert (
        admin_api.post(owner_url(free_server), {"owner": 999999}, format="json").status_code == 400
    )
    assert admin_api.post(owner_url(free_server), {}, format="json").status_code == 400


def test_admin_releases_a_server(admin_api, owned_server, owner_api):
    response = admin_api.delete(owner_url(owned_server))
    assert response.status_code == 200
    assert response.json()["owner"] is None
    assert AuditEvent.objects.filter(action="server.release_owner").count() == 1
    assert owner_api.get(f"/api/v1/servers/{owned_server.pk}/").status_code == 404


def test_owner_endpoints_on_a_missing_server_are_404(admin_api, customer):
    assert (
        admin_api.post("/api/v1/servers/999999/owner/", {"owner": customer.pk}).status_code == 404
    )
