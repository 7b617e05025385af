"""Run a rack of simulated BMCs, with a small HTTP control API for tests and demos.

Control API (JSON, on 127.0.0.1:<control port>):
  GET  /machines             every machine's state
  POST /machines/<bmc port>  change it: {"power", "acpi_responsive", "silent", "boot_device",
                             "lose_datagrams": [n, ...] (lose the n-th datagram from now),
                             "boot_url" (the panel its network boot asks; "" for none),
                             "install_seconds", "install_outcome": "succeed"|"fail"|"hang",
                             "fresh": true (forget its history: counters, console, OS)}
"""

import json
import logging
import selectors
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyghmi.ipmi.private.session as ipmi_session

from provisioning.simlab.bmc import SimBmc
from provisioning.simlab.machine import INSTALL_OUTCOMES, SimMachine

logger = logging.getLogger(__name__)

# A large lab runs in several processes, so that it uses every core.
MAX_BMCS_PER_PROCESS = 500


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

    def machine(self, port: int) -> SimMachine:
        return self.bmcs[port].machine

    def change(self, port: int, changes: dict) -> dict:
        bmc = self.bmcs[port]
        if changes.get("fresh"):
            bmc.machine.forget_history()
        if "silent" in changes:
            bmc.silent = bool(changes["silent"])
        if "acpi_responsive" in changes:
            bmc.machine.acpi_responsive = bool(changes["acpi_responsive"])
        if changes.get("power") in ("on", "off"):
            bmc.machine.power = changes["power"]
        if "lose_datagrams" in changes:
            now = bmc.datagrams_received
            bmc.lose_datagrams = {now + int(n) for n in changes["lose_datagrams"]}
        if "boot_device" in changes:
            bmc.machine.set_boot_device(changes["boot_device"])
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
            "datagrams_received": bmc.datagrams_received,
            "datagrams_lost": bmc.datagrams_lost,
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

            def _port(self) -> int | None:
                tail = self.path.rstrip("/").rsplit("/", 1)[-1]
                return int(tail) if tail.isdigit() and int(tail) in lab.bmcs else None

            def do_GET(self):
                if self.path.rstrip("/") == "/machines":
                    return self._answer(200, [lab.describe(p) for p in sorted(lab.bmcs)])
                port = self._port()
                if port is None:
                    return self._answer(404, {"detail": "no such machine"})
                return self._answer(200, lab.describe(port))

            def do_POST(self):
                port = self._port()
                if port is None:
                    return self._answer(404, {"detail": "no such machine"})
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    return self._answer(200, lab.change(port, json.loads(self.rfile.read(length))))
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
                for key, _ in selector.select():
                    self._drain(key.fileobj, key.data)

    def _drain(self, sock, port: int) -> None:
        bmc = self.bmcs[port]
        while True:
            sock.setblocking(False)  # pyghmi's sendto makes the socket blocking again
            try:
                data, sockaddr = sock.recvfrom(3000)
            except BlockingIOError:
                return
            if bmc.loses_next_datagram():
                continue
            session = ipmi_session.Session.bmc_handlers.get(sockaddr, {}).get(port)
            if session is None:
                session = ipmi_session.Session.bmc_handlers[sock][0]
            session.pktqueue.append((data, sockaddr, sock))
            try:
                session.process_pktqueue()
            except Exception:
                logger.exception("simlab: BMC %s could not handle a datagram", port)
