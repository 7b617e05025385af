"""The serial console end to end: a real WebSocket client (the `websockets` package) talks to
the panel served by daphne (its ASGI app, in a process of its own on the test database),
which holds a real IPMI SOL session to a simlab BMC over UDP."""

import asyncio
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from inventory.models import Server
from panel.models import AuditEvent
from provisioning import consoles
from provisioning.bmc import BmcTarget
from provisioning.bmc.drivers import driver_for
from provisioning.bmc.sol import SolConsole
from provisioning.models import ConsoleSession, Operation, OsTemplate
from provisioning.simlab.netboot import RESCUE_BANNER, RESCUE_PROMPT
from tests.e2e.consoles import Viewer, booted, console_of, viewing
from tests.e2e.workers import Daphne, Qcluster, wait_until
from tests.factories import make_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_until_state(session: ConsoleSession, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while ConsoleSession.objects.get(pk=session.pk).state != state:
        assert time.monotonic() < deadline, ConsoleSession.objects.get(pk=session.pk).state
        time.sleep(0.1)


def test_customer_sees_the_boot_and_the_login_prompt_echoes_what_they_type(
    asgi_panel, simlab, lab_server, customer, admin
):
    simlab.change(lab_server.lab_port, os="Debian 12", hostname="web-01")
    with console_of(asgi_panel, customer, lab_server) as viewer:
        viewer.wait_for("Connected to the serial console of")
        driver_for(lab_server.bmc).power("on")  # as a power operation would, over IPMI
        viewer.wait_for(
            "Firmware: power-on self test passed\r\n"
            "Booting from the local disk: Debian 12\r\nDebian 12 starting up"
        )
        viewer.wait_for("web-01 login: ")
        viewer.type("root")
        viewer.wait_for("web-01 login: root")
        viewer.type("\r")
        viewer.wait_for("root\r\nweb-01 login: ")
    session = ConsoleSession.objects.get(user=customer, server=lab_server)
    wait_until_state(session, ConsoleSession.State.CLOSED)
    session.refresh_from_db()
    assert session.close_reason == "The viewer closed the console."
    actions = AuditEvent.objects.filter(target_id=str(lab_server.pk), action__startswith="console")
    assert [(e.action, e.actor_id, e.source_ip) for e in actions.order_by("pk")] == [
        ("console.issue", customer.pk, None),
        ("console.open", customer.pk, "127.0.0.1"),
        ("console.close", customer.pk, "127.0.0.1"),
    ]
    assert simlab.machine(lab_server.lab_port)["power"] == "on"


def refusal(panel, server, token: str) -> tuple[int, str]:
    with viewing(panel, server, token) as viewer:
        return viewer.wait_closed()


def test_a_used_token_is_refused(asgi_panel, simlab, lab_server, customer):
    token = consoles.issue_console(actor=customer, server=lab_server).token
    with viewing(asgi_panel, lab_server, token) as viewer:
        viewer.wait_for("Connected to the serial console")
        assert refusal(asgi_panel, lab_server, token) == (
            consoles.TOKEN_REFUSED,
            "This console link was used already or is wrong.",
        )


def test_an_expired_token_is_refused(asgi_panel, lab_server, customer):
    issued = consoles.issue_console(actor=customer, server=lab_server)
    ConsoleSession.objects.filter(pk=issued.session.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert refusal(asgi_panel, lab_server, issued.token) == (
        consoles.TOKEN_REFUSED,
        "This console link has expired.",
    )


def test_a_token_for_another_server_is_refused(asgi_panel, admin, customer, lab_server):
    other = make_server(actor=admin, owner=customer, name="other-01")
    token = consoles.issue_console(actor=customer, server=other).token
    assert refusal(asgi_panel, lab_server, token) == (
        consoles.NOT_YOURS,
        "This console link is for another server.",
    )


def test_another_customers_token_is_refused_to_a_signed_in_customer(
    asgi_panel, admin, customer, other_customer, lab_server, client
):
    """A token is bound to its user: a browser signed in as someone else cannot spend it."""
    token = consoles.issue_console(actor=customer, server=lab_server).token
    client.force_login(other_customer)
    url = f"ws://127.0.0.1:{asgi_panel.port}/ws/servers/{lab_server.pk}/console/?token={token}"
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with connect(url, origin=asgi_panel.url, additional_headers={"Cookie": cookie}) as socket:
        assert Viewer(socket).wait_closed() == (
            consoles.NOT_YOURS,
            "This console link was issued to another account.",
        )


def test_a_wrong_token_is_refused(asgi_panel, lab_server):
    assert refusal(asgi_panel, lab_server, "not-a-token")[0] == consoles.TOKEN_REFUSED


def test_a_second_session_is_refused_while_the_first_holds_the_console(
    asgi_panel, simlab, lab_server, customer
):
    booted(simlab, lab_server)
    with console_of(asgi_panel, customer, lab_server) as first:
        first.wait_for(f"{lab_server.name} login: ")
        second_token = consoles.issue_console(actor=customer, server=lab_server).token
        assert refusal(asgi_panel, lab_server, second_token) == (
            consoles.BUSY,
            "The console is in use by another session (a BMC allows one session at a time). "
            "Try again later.",
        )
        first.type("still here")
        first.wait_for("login: still here")


def test_staff_take_the_console_over_and_the_customer_is_told_why(
    asgi_panel, simlab, lab_server, customer, admin
):
    booted(simlab, lab_server)
    with console_of(asgi_panel, customer, lab_server) as customers:
        customers.wait_for(f"{lab_server.name} login: ")
        token = consoles.issue_console(actor=admin, server=lab_server).token
        with viewing(asgi_panel, lab_server, token) as refused:
            code, reason = refused.wait_closed()
        assert (code, reason) == (
            consoles.BUSY,
            "The console is in use by owner@example.test (a BMC allows one session at a time). "
            "You may take it over.",
        )
        with viewing(asgi_panel, lab_server, token, takeover=True) as staffs:
            assert customers.wait_closed() == (
                consoles.ENDED,
                "Taken over by hosting staff (staff@example.test).",
            )
            staffs.wait_for(f"{lab_server.name} login: ")
            staffs.type("root")
            staffs.wait_for("login: root")
    took_over = AuditEvent.objects.get(action="console.open", actor=admin)
    assert took_over.detail["took_over"] == ConsoleSession.objects.get(user=customer).pk


def test_suspending_the_server_closes_its_customers_console(
    asgi_panel, simlab, lab_server, customer
):
    booted(simlab, lab_server)
    with console_of(asgi_panel, customer, lab_server) as viewer:
        viewer.wait_for(f"{lab_server.name} login: ")
        Server.objects.filter(pk=lab_server.pk).update(suspended=True)  # as request_suspend does
        assert viewer.wait_closed() == (consoles.ENDED, f"{lab_server.name} was suspended.")


def test_a_new_owner_closes_the_previous_owners_console(
    asgi_panel, simlab, lab_server, customer, other_customer
):
    with console_of(asgi_panel, customer, lab_server) as viewer:
        viewer.wait_for("Connected to the serial console")
        Server.objects.filter(pk=lab_server.pk).update(owner=other_customer)
        assert viewer.wait_closed() == (consoles.ENDED, "The server changed hands.")


def test_an_idle_console_is_closed(simlab, lab_server, customer):
    idle_panel = Daphne(PANEL_CONSOLE_IDLE_SECONDS=2)
    try:
        with console_of(idle_panel, customer, lab_server) as viewer:
            viewer.wait_for("Connected to the serial console")
            assert viewer.wait_closed() == (consoles.ENDED, "Closed after 2 s without activity.")
    finally:
        idle_panel.stop()


def test_a_bmc_that_does_not_answer_closes_the_console_with_the_reason(
    asgi_panel, simlab, lab_server, customer
):
    simlab.change(lab_server.lab_port, silent=True)
    with console_of(asgi_panel, customer, lab_server) as viewer:
        code, reason = viewer.wait_closed(timeout=30)
    assert code == consoles.BMC_FAILED
    assert reason.startswith("No answer from the BMC at 127.0.0.1:")
    session = ConsoleSession.objects.get(user=customer)
    assert session.state == ConsoleSession.State.CLOSED


def test_a_socket_from_another_sites_page_is_refused(asgi_panel, lab_server, customer):
    """Another site's script cannot use a link it got hold of (AllowedHostsOriginValidator)."""
    token = consoles.issue_console(actor=customer, server=lab_server).token
    url = f"ws://127.0.0.1:{asgi_panel.port}/ws/servers/{lab_server.pk}/console/?token={token}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="https://attacker.example")
    assert refused.value.response.status_code == 403
    assert ConsoleSession.objects.get().state == "issued"


@pytest.mark.usefixtures("shipped_os_templates")
def test_the_console_shows_a_reinstall_from_the_network_boot_to_the_login_prompt(
    asgi_panel, simlab, lab_server, customer, owner_api
):
    """The machine boots from daphne's boot endpoints: the panel serves both sides."""
    get_broker().purge_queue()
    simlab.change(lab_server.lab_port, power="on", boot_url=asgi_panel.url, install_seconds=1)
    worker = Qcluster(PANEL_BMC_TIMEOUT=3)
    try:
        with console_of(asgi_panel, customer, lab_server) as viewer:
            viewer.wait_for("Connected to the serial console")
            template = OsTemplate.objects.get(name="AlmaLinux 9").pk
            body = {"os_template": template, "raid": "raid_1", "password": "Correct-Horse-9"}
            response = owner_api.post(f"/api/v1/servers/{lab_server.pk}/install/", body)
            assert response.status_code == 202, response.content
            viewer.wait_for(f"iPXE: fetched {asgi_panel.url}/boot/ipxe", timeout=60)
            viewer.wait_for("iPXE: loading the installer of AlmaLinux 9")
            viewer.wait_for("Installer: done; rebooting", timeout=30)
            viewer.wait_for(f"AlmaLinux 9 starting up\r\n\r\n{lab_server.name} login: ")
    finally:
        worker.kill()
        simlab.change(lab_server.lab_port, boot_url="")


@pytest.mark.usefixtures("shipped_os_templates")
def test_the_console_reaches_the_rescue_shell_and_shows_the_disk_boot_after_leaving_it(
    asgi_panel, simlab, lab_server, customer, owner_api
):
    """Enter the rescue system through the API, work at its root shell on the console, leave
    it: the server boots its disk."""
    get_broker().purge_queue()
    simlab.change(
        lab_server.lab_port, power="on", boot_url=asgi_panel.url, os="Debian 12", hostname="web-01"
    )
    worker = Qcluster(PANEL_BMC_TIMEOUT=3)
    try:
        with console_of(asgi_panel, customer, lab_server) as viewer:
            viewer.wait_for("Connected to the serial console")
            answer = owner_api.post(f"/api/v1/servers/{lab_server.pk}/rescue/", {"password": True})
            assert answer.status_code == 202, answer.content
            viewer.wait_for("iPXE: loading the rescue system", timeout=60)
            viewer.wait_for(f"{RESCUE_BANNER}\r\n", timeout=30)
            viewer.wait_for(RESCUE_PROMPT)
            viewer.type("uname -a")
            viewer.wait_for(f"{RESCUE_PROMPT}uname -a")
            viewer.type("\r")
            viewer.wait_for(f"uname -a\r\n{RESCUE_PROMPT}")

            rescue = Operation.objects.get(server=lab_server, kind=Operation.Kind.RESCUE)
            wait_until(lambda: Operation.objects.get(pk=rescue.pk).state == "succeeded", 30)
            answer = owner_api.post(f"/api/v1/servers/{lab_server.pk}/rescue/exit/", {})
            assert answer.status_code == 202, answer.content
            viewer.wait_for("Booting from the local disk: Debian 12", timeout=60)
            viewer.wait_for("web-01 login: ")
    finally:
        worker.kill()
        simlab.change(lab_server.lab_port, boot_url="")


def test_keys_typed_as_the_console_closes_are_dropped(simlab, lab_server):
    """A viewer typing while the panel closes the console (suspension, takeover, idle)."""

    target = BmcTarget.for_bmc(lab_server.bmc)

    async def type_after_close():
        console = await SolConsole.open(target, timeout=10)
        await console.close()
        await console.write(b"late keys")

    asyncio.run(type_after_close())
