"""The serial console's links: the API that issues them, the portal's button and page."""

import re

import pytest
from django.utils import timezone

from inventory.models import Server
from panel.models import AuditEvent, IdempotencyRecord
from provisioning import consoles
from provisioning.boot import digest
from provisioning.models import ConsoleSession
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def ask(api, server, body=None):
    return api.post(f"/api/v1/servers/{server.pk}/console/", body or {}, format="json")


def test_the_owner_gets_a_single_use_link_to_the_console_page(owner_api, owned_server, customer):
    response = ask(owner_api, owned_server)
    assert response.status_code == 201, response.content
    link = response.json()
    assert set(link) == {"token", "url", "expires_at"}
    assert link["url"] == (
        f"http://testserver/servers/{owned_server.pk}/console/?token={link['token']}"
    )
    session = ConsoleSession.objects.get()
    assert (session.user, session.server, session.state) == (customer, owned_server, "issued")
    assert 59 <= (session.expires_at - timezone.now()).total_seconds() <= 60
    assert session.token_hash == digest(link["token"])
    assert link["token"] not in str(ConsoleSession.objects.values().get())


def test_staff_get_a_link_to_any_server(admin_api, owned_server, admin):
    assert ask(admin_api, owned_server).status_code == 201
    assert ConsoleSession.objects.get().user == admin


def test_anonymous_and_other_customers_get_no_link(anonymous_api, other_api, owned_server):
    assert ask(anonymous_api, owned_server).status_code == 401
    assert ask(other_api, owned_server).status_code == 404
    assert not ConsoleSession.objects.exists()


def test_a_suspended_servers_customer_is_refused_with_the_reason(
    owner_api, admin_api, owned_server
):
    Server.objects.filter(pk=owned_server.pk).update(suspended=True, suspend_reason="unpaid")
    response = ask(owner_api, owned_server)
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"{owned_server.name} is suspended (unpaid)")
    assert ask(admin_api, owned_server).status_code == 201  # staff still may look


def test_a_link_request_takes_no_fields(owner_api, owned_server):
    response = ask(owner_api, owned_server, {"minutes": 10})
    assert response.status_code == 400
    assert response.json() == {"minutes": ["Unknown field."]}


def test_a_read_only_token_gets_no_link(customer, owned_server):
    assert ask(token_client(customer, scope="read"), owned_server).status_code == 403


def test_issuing_a_link_is_audited_with_who_and_from_where(owner_api, owned_server, customer):
    owner_api.post(f"/api/v1/servers/{owned_server.pk}/console/", REMOTE_ADDR="198.51.100.7")
    event = AuditEvent.objects.get(action="console.issue")
    assert (event.actor, event.source_ip, event.target_id) == (
        customer,
        "198.51.100.7",
        str(owned_server.pk),
    )


def test_the_server_page_has_a_console_button_that_opens_the_console_page(
    client, customer, owned_server
):
    client.force_login(customer)
    page = client.get(f"/servers/{owned_server.pk}/").content.decode()
    assert f'action="/servers/{owned_server.pk}/console/open/"' in page
    response = client.post(f"/servers/{owned_server.pk}/console/open/")
    token = re.fullmatch(rf"/servers/{owned_server.pk}/console/\?token=(.+)", response.url)[1]
    assert ConsoleSession.objects.get().token_hash == digest(token)


def test_the_console_page_works_without_signing_in_and_does_not_spend_the_token(
    client, owned_server, customer
):
    token = consoles.issue_console(actor=customer, server=owned_server).token
    response = client.get(f"/servers/{owned_server.pk}/console/?token={token}")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Serial console of {owned_server.name}" in page
    assert f'data-socket-path="/ws/servers/{owned_server.pk}/console/"' in page
    assert "vendor/xterm-6.0.0/xterm.js" in page
    assert response["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self';" in response["Content-Security-Policy"]
    assert ConsoleSession.objects.get().state == "issued"


def test_the_console_page_of_a_wrong_or_spent_token_says_so(client, owned_server, customer):
    issued = consoles.issue_console(actor=customer, server=owned_server)
    ConsoleSession.objects.update(state=ConsoleSession.State.CLOSED)
    for token in (issued.token, "wrong"):
        response = client.get(f"/servers/{owned_server.pk}/console/?token={token}")
        assert response.status_code == 404
        assert "This console link does not work" in response.content.decode()


def test_another_customer_cannot_open_the_console_from_the_portal(
    client, other_customer, owned_server
):
    client.force_login(other_customer)
    assert client.post(f"/servers/{owned_server.pk}/console/open/").status_code == 404
    assert not ConsoleSession.objects.exists()


def test_a_suspended_server_has_no_console_button_for_its_customer(client, customer, owned_server):
    Server.objects.filter(pk=owned_server.pk).update(suspended=True)
    client.force_login(customer)
    page = client.get(f"/servers/{owned_server.pk}/").content.decode()
    assert "console/open/" not in page
    response = client.post(f"/servers/{owned_server.pk}/console/open/", follow=True)
    assert "is suspended" in response.content.decode()


def test_staff_open_the_console_from_the_admin_server_page(staff, owned_server, admin):
    page = staff.get(f"/admin/inventory/server/{owned_server.pk}/change/").content.decode()
    assert f'action="/servers/{owned_server.pk}/console/open/"' in page
    response = staff.post(f"/servers/{owned_server.pk}/console/open/")
    assert response.url.startswith(f"/servers/{owned_server.pk}/console/?token=")
    assert ConsoleSession.objects.get().user == admin


def test_a_retry_with_an_idempotency_key_gets_a_new_link_and_no_token_is_kept(
    owner_api, owned_server
):
    first, second = (
        owner_api.post(
            f"/api/v1/servers/{owned_server.pk}/console/", {}, HTTP_IDEMPOTENCY_KEY="console-1"
        )
        for _ in range(2)
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["token"] != second.json()["token"]
    assert "Idempotent-Replayed" not in second
    assert not IdempotencyRecord.objects.exists()
