"""Test support for the serial console: the panel's ASGI side under daphne (fixture
`asgi_panel`) and a real WebSocket client (the `websockets` package) on its console socket."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from provisioning import consoles
from provisioning.bmc.drivers import driver_for
from tests.e2e.workers import Daphne


@pytest.fixture(scope="module")
def asgi_panel(django_db_setup):
    """daphne serving the panel on the test database, for a module's tests."""
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
            # daphne sends no close reason: the panel's last notice says it (as the page shows)
            said = [n["message"] for n in map(json.loads, self.notices) if n["type"] == "closed"]
            self.closed = (closed.rcvd.code if closed.rcvd else None, said[-1] if said else "")
            return False
        if isinstance(frame, bytes):
            self.screen += frame.decode("utf-8", "replace")
        else:
            self.notices.append(frame)
        return True

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen and text not in "".join(self.notices):
            never_saw = f"never saw {text!r}: {self.screen!r}"
            assert time.monotonic() < deadline, never_saw
            try:
                assert self.read(timeout=deadline - time.monotonic()), f"closed: {self.closed}"
            except TimeoutError:
                raise AssertionError(never_saw) from None

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
    driver_for(server.bmc).power("on")  # over IPMI, as a power operation would
