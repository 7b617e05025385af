"""Test support: a real simlab process (pyghmi BMC servers over UDP, SNMP switch and PDU
agents) and its control API."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from provisioning.simlab.wiring import MAX_BMCS_PER_PROCESS, rack_wiring

ROOT = Path(__file__).resolve().parents[1]


def free_udp_ports(count: int, start: int = 21000, address: str = "127.0.0.1") -> int:
    """The first port of `count` consecutive UDP ports nobody listens on at `address`."""
    port = start
    while port < 60000:
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((address, port + offset))
            return port
        except OSError:
            port += count
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free UDP ports")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Simlab:
    def __init__(
        self,
        servers: int,
        username: str = "admin",
        password: str = "password",
        address: str = "127.0.0.1",
    ):
        self.base_port = free_udp_ports(servers, address=address)
        self.address = address
        self.control_port = free_tcp_port()
        self.ports = list(range(self.base_port, self.base_port + servers))
        self.username, self.password = username, password
        env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "tests-only-not-a-secret")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "simlab",
                "--servers",
                str(servers),
                "--base-port",
                str(self.base_port),
                "--control-port",
                str(self.control_port),
                "--username",
                username,
                "--password",
                password,
                "--address",
                address,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = []
        while not output or "simlab ready" not in output[-1]:
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError("simlab did not start:\n" + "".join(output))
            output.append(line)
        # Keep reading what the lab prints (tracebacks, if any), so its pipe never fills up.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self._next = 0
        self.wiring = {cable.bmc_port: cable for cable in rack_wiring(self.ports)}
        self.switch_port = self.switch()["port"]
        self.pdu_port = self.pdu()["port"]

    def take_port(self) -> int:
        """A BMC for one test, reset to: outlet on, powered off, answering, healthy OS, no
        history, its switch ports up."""
        port = self.ports[self._next % len(self.ports)]
        self._next += 1
        self.change(port, power_restore_policy="always-off", outlet="on")
        for if_index in (self.wiring[port].data_if_index, self.wiring[port].bmc_if_index):
            self.change_switch_port(if_index, admin="up")
        self.change(
            port,
            fresh=True,
            power="off",
            power_restore_policy="previous",
            silent=False,
            acpi_responsive=True,
            boot_device="default",
        )
        return port

    def _request(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}", data=data)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def machine(self, port: int) -> dict:
        return self._request(f"/machines/{port}")

    def power_reads(self) -> dict[int, int]:
        """How often each BMC was asked its power state, from every lab process (each rack of
        up to 500 answers on the next control port)."""
        reads = {}
        for rack in range(-(-len(self.ports) // MAX_BMCS_PER_PROCESS)):
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.control_port + rack}/machines", timeout=10
            ) as response:
                reads |= {m["port"]: m["power_reads"] for m in json.loads(response.read())}
        return reads

    def change(self, port: int, **changes) -> dict:
        return self._request(f"/machines/{port}", changes)

    def switch(self) -> dict:
        return self._request("/switch")

    def change_switch(self, **changes) -> dict:
        return self._request("/switch", changes)

    def change_switch_port(self, if_index: int, **changes) -> dict:
        return self._request(f"/switch/ports/{if_index}", changes)

    def port_at_switch(self, if_index: int) -> dict:
        """One port as the switch agent has it: admin/oper status, counters."""
        return next(port for port in self.switch()["ports"] if port["if_index"] == if_index)

    def pdu(self) -> dict:
        return self._request("/pdu")

    def change_pdu(self, **changes) -> dict:
        return self._request("/pdu", changes)

    def wait_for(self, port: int, timeout: float = 10, **expected) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            state = self.machine(port)
            if all(state[key] == value for key, value in expected.items()):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"machine {port} is {state}, expected {expected}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
