"""DELETE /users/{id}/ closes an account: no sign-in, no tokens, and its history stays."""

from panel.models import AuditEvent, User
from provisioning.models import Operation
from tests.conftest import token_client
from tests.factories import make_user

PASSWORD = "a-long-test-password"  # tests.factories.make_user's


def url(user):
    return f"/api/v1/users/{user.pk}/"


def test_anonymous_cannot_deactivate(anonymous_api, customer):
    assert anonymous_api.delete(url(customer)).status_code == 401
    customer.refresh_from_db()
    assert customer.is_active


def test_customers_cannot_deactivate_anyone(owner_api, customer, other_customer):
    assert owner_api.delete(url(other_customer)).status_code == 403
    assert owner_api.delete(url(customer)).status_code == 403
    assert User.objects.filter(is_active=True, pk__in=[customer.pk, other_customer.pk]).count() == 2


def test_staff_deactivate_a_customer_who_keeps_their_history(
    admin_api, admin, customer, owned_server
):
    Operation.objects.create(server=owned_server, kind="power_on", state="succeeded")
    response = admin_api.delete(url(customer))
    assert response.status_code == 204
    customer.refresh_from_db()
    assert not customer.is_active
    owned_server.refresh_from_db()
    assert owned_server.owner == customer
    assert Operation.objects.filter(server=owned_server).count() == 1
    event = AuditEvent.objects.get(action="user.deactivate")
    assert event.actor == admin and event.target_id == str(customer.pk)
    assert admin_api.get(url(customer)).json()["is_active"] is False


def test_deactivating_twice_answers_204_twice_and_audits_once(admin_api, customer):
    assert admin_api.delete(url(customer)).status_code == 204
    assert admin_api.delete(url(customer)).status_code == 204
    assert AuditEvent.objects.filter(action="user.deactivate").count() == 1


def test_staff_cannot_deactivate_themselves(admin_api, admin):
    response = admin_api.delete(url(admin))
    assert response.status_code == 409
    assert "yourself" in response.json()["detail"]
    admin.refresh_from_db()
    assert admin.is_active


def test_another_staff_member_can_be_deactivated(admin_api):
    colleague = make_user("admin")
    assert admin_api.delete(url(colleague)).status_code == 204
    colleague.refresh_from_db()
    assert not colleague.is_admin


def test_an_unknown_user_is_a_404(admin_api):
    assert admin_api.delete("/api/v1/users/999999/").status_code == 404


def test_a_deactivated_user_cannot_sign_in_nor_use_tokens_or_sessions(admin_api, client):
    person = make_user("customer")
    api = token_client(person)
    assert api.get("/api/v1/servers/").status_code == 200
    assert client.login(username=person.email, password=PASSWORD)
    assert client.get("/api/v1/servers/").status_code == 200

    assert admin_api.delete(url(person)).status_code == 204

    refused = api.get("/api/v1/servers/")
    assert refused.status_code == 401
    assert "inactive" in refused.json()["detail"]
    assert client.get("/api/v1/servers/").status_code in (401, 403)
    client.logout()
    assert not client.login(username=person.email, password=PASSWORD)
