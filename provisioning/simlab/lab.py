"""Run a rack of simulated BMCs, its switch and its PDU, with a small HTTP control API for
tests and demos. How machines are cabled to switch ports and outlets: see `wiring`; the
agents' communities and v3 user: `snmpagent.SnmpCredentials`.

Control API (JSON, on 127.0.0.1:<control port>):
  GET  /machines             every machine's state
  POST /machines/<bmc port>  change it: {"power", "acpi_responsive", "silent", "boot_device",
                             "lose_datagrams": [n, ...] (lose the n-th datagram from now),
                             "boot_url" (the panel its network boot asks; "" for none),
                             "install_seconds", "install_outcome": "succeed"|"fail"|"hang",
                             "fresh": true (forget its history: counters, console, OS),
                             "os", "hostname" (the system on its disk, booted next time),
                             "boot": true (its power button: on, and it boots),
                             "traffic_mbps" (its data port's average rate, out; in is 30 %),
                             "outlet": "on"|"off" (its mains, as if its PDU outlet switched),
                             "power_restore_policy": "always-off"|"previous"|"always-on"}
  GET  /switch               the switch agent: its UDP port, sysUpTime, every port's
                             admin/oper status and ifHC counters
  POST /switch               {"silent": true (a dead switch: no answers), "restart": true
                             (counters and sysUpTime back to 0; admin statuses kept),
                             "uptime": seconds (an agent up that long)}
  POST /switch/ports/<ifIndex>  {"admin": "up"|"down", "in_octets", "out_octets" (set the
                             counters, e.g. near 2**64 to see them wrap), "mbps"}
  GET  /pdu                  the PDU agent: its UDP port and every outlet's state
  POST /pdu                  {"silent": true}
"""

import json
import logging
import re
import selectors
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyghmi.ipmi.private.session as ipmi_session

from provisioning.simlab.bmc import SimBmc
from provisioning.simlab.machine import INSTALL_OUTCOMES, POWER_RESTORE_POLICIES, SimMachine
from provisioning.simlab.pdu import SimPdu
from provisioning.simlab.snmpagent import SnmpCredentials, serve_agents
from provisioning.simlab.switch import SimSwitch
from provisioning.simlab.wiring import MAX_BMCS_PER_PROCESS

logger = logging.getLogger(__name__)
SOL_TICK_SECONDS = 0.05  # how soon a machine's screen reaches an attached SOL console
# The control API's paths: kind -> (pattern with an optional number, the numbers there are).
CONTROL_PATHS = {
    "machines": (r"/machines(?:/(\d+))?", lambda lab: lab.bmcs),
    "switch": (r"/switch(?:/ports/(\d+))?", lambda lab: lab.switch.ports),
    "pdu": (r"/pdu(?:/(\d+))?", lambda lab: {}),  # outlets: SNMP, or a machine's "outlet"
}


class Lab:
    def __init__(
        self,
        *,
        ports: list[int],
        username: str,
        password: str,
        address: str = "127.0.0.1",
        boot_url: str = "",
        install_seconds: float = 3.0,
        rack: int = 0,
        switch_port: int = 0,
        pdu_port: int = 0,
        snmp: SnmpCredentials = SnmpCredentials(),  # noqa: B008 - frozen, so shared safely
    ):
        if len(ports) > MAX_BMCS_PER_PROCESS:
            raise ValueError(f"One lab process serves at most {MAX_BMCS_PER_PROCESS} BMCs.")
        self.bmcs = {
            port: SimBmc(
                SimMachine(port=port, boot_url=boot_url, install_seconds=install_seconds),
                username=username,
                password=password,
                address=address,
            )
            for port in ports
        }
        # serve_forever reads these sockets; pyghmi's I/O thread must not race it for them.
        ours = {bmc.serversocket for bmc in self.bmcs.values()}
        ipmi_session.iosockets[:] = [s for s in ipmi_session.iosockets if s not in ours]
        machines = [self.bmcs[port].machine for port in ports]
        self.switch = SimSwitch(
            machines, snmp, name=f"simlab-switch-{rack}", port=switch_port, address=address
        )
        self.pdu = SimPdu(machines, snmp, name=f"simlab-pdu-{rack}", port=pdu_port, address=address)

    def serve_snmp(self) -> None:
        """Start the switch and PDU agents (in a thread of their own)."""
        serve_agents([self.switch.agent, self.pdu.agent])

    def machine(self, port: int) -> SimMachine:
        return self.bmcs[port].machine

    def change(self, port: int, changes: dict) -> dict:
        bmc = self.bmcs[port]
        if changes.get("fresh"):
            bmc.machine.forget_history()
            bmc.power_reads = 0
        if "silent" in changes:
            bmc.silent = bool(changes["silent"])
        if "acpi_responsive" in changes:
            bmc.machine.acpi_responsive = bool(changes["acpi_responsive"])
        if "power_restore_policy" in changes:
            if changes["power_restore_policy"] not in POWER_RESTORE_POLICIES:
                raise ValueError(
                    f"power_restore_policy is one of {', '.join(POWER_RESTORE_POLICIES)}"
                )
            bmc.machine.power_restore_policy = changes["power_restore_policy"]
        if changes.get("outlet") in ("on", "off"):
            bmc.machine.set_mains(changes["outlet"] == "on")
        if changes.get("power") in ("on", "off"):
            bmc.machine.set_power(changes["power"])
        if "traffic_mbps" in changes:
            self.switch.change_port(
                self.switch.data_port[port].if_index, {"mbps": changes["traffic_mbps"]}
            )
        if "lose_datagrams" in changes:
            now = bmc.datagrams_received
            bmc.lose_datagrams = {now + int(n) for n in changes["lose_datagrams"]}
        if "boot_device" in changes:
            bmc.machine.set_boot_device(changes["boot_device"])
        if "os" in changes or "hostname" in changes:
            bmc.machine.os = str(changes.get("os", bmc.machine.os))
            bmc.machine.hostname = str(changes.get("hostname", bmc.machine.hostname))
        if changes.get("boot"):
            bmc.machine.power_on()
        if "boot_url" in changes:
            bmc.machine.boot_url = str(changes["boot_url"]).rstrip("/")
        if "install_seconds" in changes:
            bmc.machine.install_seconds = max(0.0, float(changes["install_seconds"]))
        if "install_outcome" in changes:
            if changes["install_outcome"] not in INSTALL_OUTCOMES:
                raise ValueError(f"install_outcome is one of {', '.join(INSTALL_OUTCOMES)}")
            bmc.machine.install_outcome = changes["install_outcome"]
        return self.describe(port)

    def describe(self, port: int) -> dict:
        bmc = self.bmcs[port]
        return {
            **bmc.machine.as_dict(),
            "silent": bmc.silent,
            "refused_suite_proposals": bmc.refused_suite_proposals,
            "power_reads": bmc.power_reads,
            "datagrams_received": bmc.datagrams_received,
            "datagrams_lost": bmc.datagrams_lost,
            "traffic_mbps": self.switch.data_port[port].mbps,
        }

    def serve_control(self, port: int) -> ThreadingHTTPServer:
        lab = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, body) -> None:
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _target(self) -> tuple[str, int | None]:
                """What the path names: a kind of thing and its number (None: all of them, or
                the device itself); KeyError for anything else."""
                for kind, (pattern, known) in CONTROL_PATHS.items():
                    if match := re.fullmatch(pattern, self.path.rstrip("/")):
                        number = None if match[1] is None else int(match[1])
                        if number is None or number in known(lab):
                            return kind, number
                raise KeyError(self.path)

            def do_GET(self):
                try:
                    kind, number = self._target()
                except KeyError:
                    return self._answer(404, {"detail": "nothing here"})
                if kind == "switch":
                    return self._answer(200, lab.switch.describe())
                if kind == "pdu":
                    return self._answer(200, lab.pdu.describe())
                if number is None:
                    return self._answer(200, [lab.describe(p) for p in sorted(lab.bmcs)])
                return self._answer(200, lab.describe(number))

            def do_POST(self):
                try:
                    kind, number = self._target()
                except KeyError:
                    return self._answer(404, {"detail": "nothing here"})
                change = {
                    ("machines", True): lambda body: lab.change(number, body),
                    ("switch", False): lab.switch.change,
                    ("switch", True): lambda body: lab.switch.change_port(number, body),
                    ("pdu", False): lab.pdu.change,
                }.get((kind, number is not None))
                if change is None:
                    return self._answer(404, {"detail": "nothing to change here"})
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    return self._answer(200, change(json.loads(self.rfile.read(length))))
                except (ValueError, TypeError, AttributeError) as exc:
                    return self._answer(400, {"detail": f"not a change this lab takes: {exc}"})

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True, name="simlab-control").start()
        return server

    def serve_forever(self) -> None:
        """Answer IPMI on every BMC of this process until killed.

        Our own loop, not pyghmi's: under a few dozen concurrent clients its I/O thread
        stopped reading sockets with datagrams waiting (seen with `ss`: hundreds of BMC
        sockets with a full receive queue and both lab threads idle). Each datagram goes
        to the session pyghmi would pick; one it cannot handle costs that datagram, not
        the process and its hundreds of BMCs.
        """
        with selectors.DefaultSelector() as selector:
            for port, bmc in self.bmcs.items():
                selector.register(bmc.serversocket, selectors.EVENT_READ, port)
            while True:
                consoles = [bmc for bmc in self.bmcs.values() if bmc.sol is not None]
                for key, _ in selector.select(SOL_TICK_SECONDS if consoles else None):
                    self._drain(key.fileobj, key.data)
                for bmc in consoles:
                    bmc.send_console()

    def _drain(self, sock, port: int) -> None:
        bmc = self.bmcs[port]
        while True:
            sock.setblocking(False)  # pyghmi's sendto makes the socket blocking again
            try:
                data, sockaddr = sock.recvfrom(3000)
            except BlockingIOError:
                return
            if bmc.loses_next_datagram() or not bmc.machine.mains:
                continue  # lost on the way, or the BMC has no power
            session = ipmi_session.Session.bmc_handlers.get(sockaddr, {}).get(port)
            if session is None:
                session = ipmi_session.Session.bmc_handlers[sock][0]
            session.pktqueue.append((data, sockaddr, sock))
            try:
                session.process_pktqueue()
            except Exception:
                logger.exception("simlab: BMC %s could not handle a datagram", port)
