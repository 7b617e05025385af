"""Who holds a server's console, decided in the database (any number of ASGI processes)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Server
from panel.models import User
from provisioning import consoles
from provisioning.models import ConsoleSession

pytestmark = pytest.mark.django_db


def opened(user, server) -> ConsoleSession:
    token = consoles.issue_console(actor=user, server=server).token
    return consoles.open_console(token=token, server_id=server.pk, viewer=None)


def test_a_console_whose_process_died_is_given_to_the_next_viewer(customer, owned_server):
    dead = opened(customer, owned_server)
    ConsoleSession.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=consoles.STALE_SECONDS + 1)
    )
    alive = opened(customer, owned_server)
    dead.refresh_from_db()
    assert (dead.state, dead.close_reason) == ("closed", "Lost: the process that held it stopped.")
    assert alive.state == "open"


def test_a_live_console_refuses_a_second_viewer_and_keeps_its_token_unspent(customer, owned_server):
    opened(customer, owned_server)
    issued = consoles.issue_console(actor=customer, server=owned_server)
    with pytest.raises(consoles.ConsoleRefused) as refused:
        consoles.open_console(token=issued.token, server_id=owned_server.pk, viewer=None)
    assert refused.value.code == consoles.BUSY
    assert ConsoleSession.objects.get(pk=issued.session.pk).state == "issued"


def test_a_customer_cannot_take_a_console_over(customer, owned_server):
    opened(customer, owned_server)
    token = consoles.issue_console(actor=customer, server=owned_server).token
    with pytest.raises(consoles.ConsoleRefused) as refused:
        consoles.open_console(token=token, server_id=owned_server.pk, viewer=None, takeover=True)
    assert refused.value.code == consoles.BUSY


def test_a_link_issued_before_the_server_changed_hands_no_longer_opens(
    customer, owned_server, admin
):
    token = consoles.issue_console(actor=customer, server=owned_server).token
    inventory.release_owner(actor=admin, server=owned_server)
    with pytest.raises(consoles.ConsoleRefused) as refused:
        consoles.open_console(token=token, server_id=owned_server.pk, viewer=None)
    assert refused.value.code == consoles.NOT_YOURS


def test_an_open_console_ends_when_the_server_changes_hands_is_suspended_or_the_user_goes(
    customer, owned_server, admin
):
    session = opened(customer, owned_server)
    assert consoles.why_end(session) is None
    Server.objects.filter(pk=owned_server.pk).update(suspended=True)
    assert consoles.why_end(session) == f"{owned_server.name} was suspended."
    Server.objects.filter(pk=owned_server.pk).update(owner=admin)
    assert consoles.why_end(session) == "The server changed hands."
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert consoles.why_end(session) == "The account was deactivated."
