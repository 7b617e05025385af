"""The serial console end to end: a real WebSocket client (the `websockets` package) talks to
the panel served by daphne (its ASGI app, in a process of its own on the test database),
which holds a real IPMI SOL session to a simlab BMC over UDP."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from panel.models import AuditEvent
from provisioning import consoles
from provisioning.bmc.drivers import driver_for
from provisioning.models import ConsoleSession
from tests.e2e.workers import Daphne

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def panel(django_db_setup, django_db_blocker):
    web = Daphne(PANEL_BMC_TIMEOUT=5)
    yield web
    web.stop()


class Viewer:
    """One browser's console socket: what it has seen, and how it ended."""

    def __init__(self, socket):
        self.socket = socket
        self.screen, self.notices, self.closed = "", [], None

    def read(self, timeout: float = 10) -> bool:
        """Take one frame; False once the socket is closed."""
        try:
            frame = self.socket.recv(timeout=timeout)
        except ConnectionClosed as closed:
            self.closed = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
            return False
        if isinstance(frame, bytes):
            self.screen += frame.decode("utf-8", "replace")
        else:
            self.notices.append(frame)
        return True

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen and text not in "".join(self.notices):
            assert time.monotonic() < deadline, f"never saw {text!r}: {self.screen!r}"
            assert self.read(timeout=deadline - time.monotonic()), f"closed: {self.closed}"

    def wait_closed(self, timeout: float = 15) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while self.read(timeout=deadline - time.monotonic()):
            pass
        return self.closed

    def type(self, keys: str) -> None:
        self.socket.send(keys.encode())


@contextmanager
def viewing(panel, server, token: str, takeover: bool = False) -> Iterator[Viewer]:
    url = f"ws://127.0.0.1:{panel.port}/ws/servers/{server.pk}/console/?token={token}"
    with connect(url + ("&takeover=1" if takeover else ""), origin=panel.url) as socket:
        yield Viewer(socket)


def console_of(panel, user, server, **options):
    """`user` opens `server`'s console as the portal's button does."""
    return viewing(
        panel, server, consoles.issue_console(actor=user, server=server).token, **options
    )


def booted(simlab, server) -> None:
    """The machine has booted Debian 12 from its disk: its console shows the login prompt."""
    simlab.change(server.lab_port, os="Debian 12", hostname=server.name)
    driver_for(server.bmc).power("on")


def wait_until_state(session: ConsoleSession, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while ConsoleSession.objects.get(pk=session.pk).state != state:
        assert time.monotonic() < deadline, ConsoleSession.objects.get(pk=session.pk).state
        time.sleep(0.1)


def test_customer_sees_the_boot_and_the_login_prompt_echoes_what_they_type(
    panel, simlab, lab_server, customer, admin
):
    simlab.change(lab_server.lab_port, os="Debian 12", hostname="web-01")
    with console_of(panel, customer, lab_server) as viewer:
        viewer.wait_for("Connected to the serial console of")
        driver_for(lab_server.bmc).power("on")  # as a power operation would, over IPMI
        viewer.wait_for("Booting from the local disk: Debian 12\r\nDebian 12 starting up")
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
