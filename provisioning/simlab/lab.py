"""Run a rack of simulated BMCs, with a small HTTP control API for tests and demos.

Control API (JSON, on 127.0.0.1:<control port>):
  GET  /machines             every machine's state
  POST /machines/<bmc port>  change it: {"power", "acpi_responsive", "silent", "boot_device"}
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyghmi.ipmi.private.session as ipmi_session

from provisioning.simlab.bmc import SimBmc
from provisioning.simlab.machine import SimMachine

# select() in pyghmi's I/O loop cannot watch file descriptors above 1023.
MAX_BMCS_PER_PROCESS = 500


class Lab:
    def __init__(
        self, *, ports: list[int], username: str, password: str, address: str = "127.0.0.1"
    ):
        if len(ports) > MAX_BMCS_PER_PROCESS:
            raise ValueError(f"One lab process serves at most {MAX_BMCS_PER_PROCESS} BMCs.")
        self.bmcs = {
            port: SimBmc(
                SimMachine(port=port), username=username, password=password, address=address
            )
            for port in ports
        }

    def machine(self, port: int) -> SimMachine:
        return self.bmcs[port].machine

    def change(self, port: int, changes: dict) -> dict:
        bmc = self.bmcs[port]
        if "silent" in changes:
            bmc.silent = bool(changes["silent"])
        if "acpi_responsive" in changes:
            bmc.machine.acpi_responsive = bool(changes["acpi_responsive"])
        if changes.get("power") in ("on", "off"):
            bmc.machine.power = changes["power"]
        if "boot_device" in changes:
            bmc.machine.set_boot_device(changes["boot_device"])
        return self.describe(port)

    def describe(self, port: int) -> dict:
        bmc = self.bmcs[port]
        return {
            **bmc.machine.as_dict(),
            "silent": bmc.silent,
            "refused_suite_proposals": bmc.refused_suite_proposals,
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
                    changes = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._answer(400, {"detail": "body must be JSON"})
                return self._answer(200, lab.change(port, changes))

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True, name="simlab-control").start()
        return server

    @staticmethod
    def serve_forever() -> None:
        """Answer IPMI on every BMC of this process until killed."""
        while True:
            ipmi_session.Session.wait_for_rsp(timeout=30)
