"""A pyghmi BMC server that negotiates like a real suite-3 BMC.

pyghmi 1.6.19's server implements only cipher suite 3 but accepts a suite-17
proposal, which breaks pyghmi's own client (it then expects SHA-256). A real BMC
refuses what it cannot do; so does this one, and the client falls back to suite 3.
It also refuses unknown user names (RAKP2 "unauthorized name") instead of staying
silent, and can be told to stop answering, to model a BMC that drops off the network, or
to lose chosen datagrams, to model a lossy network.
"""

import pyghmi.ipmi.bmc as pyghmi_bmc
import pyghmi.ipmi.private.constants as constants
import pyghmi.ipmi.private.serversession as serversession
import pyghmi.ipmi.private.session as ipmi_session

from provisioning.simlab.machine import SimMachine

SHA1_SUITE_ALGORITHMS = (1, 1, 1)  # RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128
NO_CIPHER_SUITE_MATCH = 0x11
UNAUTHORIZED_NAME = 0x0D
NOT_IN_PRESENT_STATE = 0xD5  # IPMI completion code
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
        handlers = ipmi_session.Session.bmc_handlers.get(self.sockaddr, {})
        if handlers.get(self.bmc.port) is self:
            del handlers[self.bmc.port]
            if not handlers:
                ipmi_session.Session.bmc_handlers.pop(self.sockaddr, None)


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
        if not self.silent:
            super().handle_raw_request(request, session)

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
