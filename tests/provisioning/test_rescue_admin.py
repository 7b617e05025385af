"""Staff and the rescue system in the admin: the server page's forms and the list's actions,
through the same services; a forced power action or reinstall ends the rescue."""

import pytest

from panel.models import AuditEvent, SshKey
from provisioning.models import Operation, OsTemplate, RescueSession
from tests.factories import ED25519, FINGERPRINT, make_server
from tests.inventory.test_admin_actions import act, shown
from tests.inventory.test_server_admin_page import do, page_of
from tests.pages import page_text as text
from tests.provisioning.test_rescue_api import in_rescue

pytestmark = pytest.mark.usefixtures("shipped_os_templates")


def test_staff_boot_the_rescue_system_with_the_owners_keys_from_the_page(staff, admin, customer):
    server = make_server(actor=admin, owner=customer)
    key = SshKey.objects.create(
        user=customer, name="laptop", public_key=ED25519, key_type="ssh-ed25519"
    )
    assert "Boot the rescue system" in text(staff.get(page_of(server)))

    nothing = staff.post(do(server, "rescue"), {})
    assert nothing.status_code == 400
    assert "Give SSH keys, ask for a one-time password, or both." in text(nothing)

    response = staff.post(do(server, "rescue"), {"ssh_keys": [key.pk]}, follow=True)

    op = Operation.objects.get(server=server)
    assert op.kind == Operation.Kind.RESCUE and op.requested_by == admin
    assert op.params["ssh_keys"] == [ED25519] and "password_hash" not in op.params
    assert f"Rescue system requested: operation #{op.pk}." in text(response)
    assert RescueSession.objects.get(operation=op).ssh_keys == [["alice@laptop", FINGERPRINT]]


def test_the_page_offers_leaving_the_rescue_system_and_refuses_the_rest(staff, admin, customer):
    server = make_server(actor=admin, owner=customer)
    in_rescue(server, customer)
    page = text(staff.get(page_of(server)))
    assert "Leave the rescue system" in page and "Boot the rescue system" not in page

    refused = staff.post(do(server, "power"), {"action": "cycle"})
    assert refused.status_code == 400 and "is in the rescue system" in text(refused)

    staff.post(do(server, "rescue-exit"), {})
    assert Operation.objects.filter(kind=Operation.Kind.RESCUE_EXIT, requested_by=admin).exists()


def test_staff_force_a_power_cycle_from_the_page(staff, admin, customer):
    server = make_server(actor=admin, owner=customer)
    session = in_rescue(server, customer)

    staff.post(do(server, "power"), {"action": "cycle", "force": "on"})

    assert Operation.objects.filter(kind=Operation.Kind.POWER_CYCLE).exists()
    session.refresh_from_db()
    assert session.ended_at is not None
    assert AuditEvent.objects.filter(action="rescue.forced", actor=admin).exists()


def test_the_list_actions_rescue_and_leave(staff, admin, customer):
    one = make_server(actor=admin, owner=customer, name="r-1")
    two = make_server(actor=admin, owner=customer, name="r-2")
    in_rescue(two, customer)

    page = shown(act(staff, "rescue_exit", [one, two]))

    assert "Refused: r-1: r-1 is not in the rescue system." in page
    assert f"Rescue exit requested: r-2 (operation #{two.operations.latest('pk').pk})." in page
    form = shown(act(staff, "rescue", [one]))
    assert "Boot the rescue system" in form
    done = shown(act(staff, "rescue", [one], apply="1", ssh_key_texts=ED25519))
    assert f"Rescue system requested: r-1 (operation #{one.operations.latest('pk').pk})." in done
    assert OsTemplate.objects.get(pk=one.operations.latest("pk").params["os_template"]).is_utility
