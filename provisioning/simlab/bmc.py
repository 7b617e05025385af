"""A pyghmi BMC server that negotiates like a real suite-3 BMC.

pyghmi 1.6.19's server implements only cipher suite 3 but accepts a suite-17
proposal, which breaks pyghmi's own client (it then expects SHA-256). A real BMC
refuses what it cannot do; so does this one, and the client falls back to suite 3.
It also refuses unknown user names (RAKP2 "unauthorized name") instead of staying
silent, and can be told to stop answering, to model a BMC that drops off the network, or
to lose chosen datagrams, to model a lossy network.

It answers Serial-over-LAN: its machine's screen goes out as SOL data, keys typed come in.
"""

import struct
import threading
import time
from collections import deque

import pyghmi.ipmi.bmc as pyghmi_bmc
import pyghmi.ipmi.console as pyghmi_console
import pyghmi.ipmi.private.constants as constants
import pyghmi.ipmi.private.serversession as serversession
import pyghmi.ipmi.private.session as ipmi_session

from provisioning.simlab.machine import SimMachine

SHA1_SUITE_ALGORITHMS = (1, 1, 1)  # RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128
NO_CIPHER_SUITE_MATCH = 0x11
UNAUTHORIZED_NAME = 0x0D
NOT_IN_PRESENT_STATE = 0xD5  # IPMI completion code
NETFN_APP, GET_PAYLOAD_INSTANCE_INFO = 6, 0x4B
SOL_ALREADY_ACTIVE = 0x80  # activate payload: "payload already active on another session"
SOL_RETRANSMIT_SECONDS, SOL_RETRANSMITS = 1.0, 5
# pyghmi's names for IPMI boot devices <-> the panel's names.
PANEL_BOOT_DEVICE = {"network": "pxe", "hd": "disk", "optical": "cdrom", "setup": "bios"}
IPMI_BOOT_DEVICE = {panel: ipmi for ipmi, panel in PANEL_BOOT_DEVICE.items()}


def _proposed_algorithms(request: bytearray) -> tuple[int, int, int]:
    """Authentication, integrity and confidentiality algorithms of an open-session request."""
    return request[12], request[20], request[28]


class SimSession(serversession.ServerSession):
    def create_open_session_response(self, request):
        if _proposed_algorithms(request) != SHA1_SUITE_ALGORITHMS:
            self.bmc.refused_suite_proposals += 1
            self.clientsessionid = request[4:8]
            return bytearray([request[0], NO_CIPHER_SUITE_MATCH, 0, 0]) + self.clientsessionid
        return super().create_open_session_response(request)

    def _got_rakp1(self, data):
        if self.bmc.silent:
            return
        username = bytes(data[28:]).decode("utf-8", "replace")
        if data[27] and self.authdata.get(username) is None:
            refusal = bytearray([data[0], UNAUTHORIZED_NAME, 0, 0]) + self.clientsessionid
            self.send_payload(refusal, constants.payload_types["rakp2"], retry=False)
            return
        super()._got_rakp1(data)

    def sessionless_data(self, data, sockaddr):
        """A new client reusing an old client's UDP port: pyghmi hands its first packet
        to the old session, which has no such method (it killed the whole lab process)."""
        self.bmc.sessionless_data(data, sockaddr)

    def close_server_session(self):
        """Forget the session at logout; pyghmi keeps every server session forever."""
        self.bmc.session_closed(self)
        handlers = ipmi_session.Session.bmc_handlers.get(self.sockaddr, {})
        if handlers.get(self.bmc.port) is self:
            del handlers[self.bmc.port]
            if not handlers:
                ipmi_session.Session.bmc_handlers.pop(self.sockaddr, None)


class SimConsole(pyghmi_console.ServerConsole):
    """The BMC's side of a SOL session that sends and returns.

    pyghmi's server console waits for each acknowledgement by running pyghmi's own event
    loop, which never reads simlab's sockets (the lab's loop does): it would stall the lab.
    This one sends a packet and returns; the ack arrives through the lab's loop, which
    also calls `retransmit` so a lost packet is sent again.
    """

    sent_at = 0.0
    retransmits = 0

    def __init__(self, session, iohandler):
        """pyghmi's initialisation without its last step, a turn of pyghmi's event loop
        (which fails in simlab: the lab's loop, not pyghmi's, owns the sockets)."""
        self.outputlock = threading.RLock()
        self.keepaliveid = None
        self.connected, self.broken, self.activated, self.poweredon = True, False, True, True
        self.out_handler = iohandler
        self.remseq = self.myseq = self.lastsize = self.retriedpayload = 0
        self.pendingoutput = []
        self.awaitingack = self.force_session = False
        self.ipmi_session = session
        session.sol_handler = self._got_sol_payload
        self.maxoutcount = 255

    def _sendoutput(self, output, sendbreak=False):
        self.myseq = self.myseq % 15 + 1
        self.lastpayload = bytearray((self.myseq, 0, 0, 0)) + output
        self.awaitingack = True
        self.sent_at, self.retransmits = time.monotonic(), 0
        self.send_payload(self.lastpayload, retry=False)

    def retransmit(self) -> bool:
        """Send an unacknowledged packet again when due; False once the client is gone."""
        if not self.awaitingack or time.monotonic() - self.sent_at < SOL_RETRANSMIT_SECONDS:
            return True
        if self.retransmits == SOL_RETRANSMITS:
            return False
        self.retransmits += 1
        self.sent_at = time.monotonic()
        self.send_payload(self.lastpayload, retry=False)
        return True


class SimBmc(pyghmi_bmc.Bmc):
    """One simulated BMC on its own UDP port, driving a SimMachine."""

    def __init__(self, machine: SimMachine, username: str, password: str, address: str):
        super().__init__({username: password}, port=machine.port, address=address)
        self.machine = machine
        self.silent = False
        self.refused_suite_proposals = 0
        self.power_reads = 0  # chassis status requests: how often the panel read the state
        self.datagrams_received = self.datagrams_lost = 0
        self.lose_datagrams: set[int] = set()  # numbers of received datagrams to drop
        self.screen_output: deque[str] = deque()  # for the SOL session, sent by the lab's loop
        machine.screen_watchers.append(self._screen_shows)

    def loses_next_datagram(self) -> bool:
        """Count a datagram in; True when the network is to lose it (UDP does)."""
        self.datagrams_received += 1
        if self.datagrams_received in self.lose_datagrams:
            self.lose_datagrams.discard(self.datagrams_received)
            self.datagrams_lost += 1
            return True
        return False

    def sessionless_data(self, data, sockaddr):
        if self.silent:
            return
        raw = bytearray(data)
        is_open_session = len(raw) >= 22 and raw[0] == 6 and raw[4] == 6 and raw[5] == 0x10
        if is_open_session:
            SimSession(
                self.authdata, self.kg, sockaddr, self.serversocket, raw[16:], self.uuid, bmc=self
            )
            return
        super().sessionless_data(data, sockaddr)

    def handle_raw_request(self, request, session):
        if self.silent:
            return
        if (request["netfn"], request["command"]) == (NETFN_APP, GET_PAYLOAD_INSTANCE_INFO):
            # The SOL client's keepalive asks who holds the console (IPMI 2.0, 24.5).
            owner = self.sol.ipmi_session.managedsessionid if self.sol else bytes(4)
            return session.send_ipmi_response(data=list(owner) + [0] * 8)
        super().handle_raw_request(request, session)

    def is_active(self):
        return True  # SOL is there while the BMC has standby power, as on real servers

    def iohandler(self, keys):
        self.machine.type(bytes(keys))

    def activate_payload(self, request, session):
        """pyghmi's activation with our console, which first draws the machine's screen."""
        if self.activated:
            return session.send_ipmi_response(code=SOL_ALREADY_ACTIVE)
        self.activated = True
        # Inbound and outbound payloads of up to 255 bytes, SOL on the BMC's own port.
        sizes, port = [0xFF, 0, 0xFF, 0], list(struct.pack("!H", self.port))
        session.send_ipmi_response(data=[0, 0, 0, 0, *sizes, *port, 0xFF, 0xFF])
        self.sol = SimConsole(session, self.iohandler)
        self.screen_output.clear()
        self.screen_output.append(self.machine.screen())

    def session_closed(self, session) -> None:
        """A client logging out ends its SOL session (pyghmi's server would keep it active)."""
        if self.sol is not None and self.sol.ipmi_session is session:
            self.activated, self.sol = False, None

    def _screen_shows(self, text: str) -> None:
        if self.sol is not None:
            self.screen_output.append(text)

    def send_console(self) -> None:
        """Send what the screen showed to the SOL client (the lab's loop calls this)."""
        if self.sol is None:
            return
        while self.screen_output:
            if text := self.screen_output.popleft():
                self.sol.send_data(text.encode())
        if not self.sol.retransmit():
            self.activated, self.sol = False, None  # the client went away without a word

    def get_power_state(self):
        self.power_reads += 1
        return self.machine.power

    def power_on(self):
        self.machine.power_on()

    def power_off(self):
        self.machine.power_off()

    def power_reset(self):
        self.machine.reset()

    def power_cycle(self):
        return 0 if self.machine.cycle() else NOT_IN_PRESENT_STATE

    def power_shutdown(self):
        self.machine.request_shutdown()

    def get_boot_device(self):
        return IPMI_BOOT_DEVICE.get(self.machine.boot_device, "default")

    def set_boot_device(self, bootdevice):
        self.machine.set_boot_device(PANEL_BOOT_DEVICE.get(bootdevice, "default"))
