"""Real SNMP agents on loopback: snmpsim serving APC PDU walks recorded from real devices
(snmpsim-data) and a generated IF-MIB switch, answering SNMP v2c and v3 (SHA + AES)."""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import snmpsim_data
from django.test import override_settings

from inventory.models import Server
from network import snmp
from network.snmp import SnmpTarget
from tests.network.traffic import make_port
from tests.simlab import free_udp_ports

WALKS = Path(snmpsim_data.__file__).parent / "data" / "UPS"
V3_USER, V3_AUTH_KEY, V3_PRIV_KEY = "panel", "auth-secret-1", "priv-secret-1"
# The generated switch: ifIndex -> ifName. ifIndex 1 has no ifXTable row (a VLAN interface).
SWITCH_PORTS = {1000 + n: f"Gi1/0/{n}" for n in range(1, 49)}
NOT_APPLIED_PORT = 1048  # accepts a SET of ifAdminStatus but keeps reporting up
BIG_SWITCH_PORTS = 1000
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def counter_in(if_index: int) -> int:
    """Counters near 2**64, so 64-bit values are read whole."""
    return 2**64 - 1_000_000 + if_index


def counter_out(if_index: int) -> int:
    return 10**12 + if_index


def switch_records(ports: dict[int, str], with_vlan: bool = True) -> list[tuple[str, str, str]]:
    records = [
        (SYS_DESCR, "4:error", "op=set,status=notwritable,value=Test switch (snmpsim)"),
        ("1.3.6.1.2.1.1.3.0", "67", "4242"),
        ("1.3.6.1.2.1.1.5.0", "4", "sw-test-01"),
    ]
    interfaces = ({1: "Vlan1"} if with_vlan else {}) | ports
    for index, name in interfaces.items():
        admin = (
            ("2:delay", "value=1,wait=0")
            if index == NOT_APPLIED_PORT
            else ("2:writecache", "value=1")
        )
        records += [
            (f"1.3.6.1.2.1.2.2.1.1.{index}", "2", str(index)),
            (
                f"1.3.6.1.2.1.2.2.1.2.{index}",
                "4",
                f"GigabitEthernet{name[2:]}" if index > 1 else name,
            ),
            (f"1.3.6.1.2.1.2.2.1.7.{index}", *admin),
            (f"1.3.6.1.2.1.2.2.1.8.{index}", "2", "1" if index % 2 else "2"),
        ]
        if index == 1:
            continue
        records += [
            (f"1.3.6.1.2.1.31.1.1.1.1.{index}", "4", name),
            (f"1.3.6.1.2.1.31.1.1.1.6.{index}", "70", str(counter_in(index))),
            (f"1.3.6.1.2.1.31.1.1.1.10.{index}", "70", str(counter_out(index))),
            (f"1.3.6.1.2.1.31.1.1.1.15.{index}", "66", "1000"),
        ]
    return records


def write_snmprec(path: Path, records) -> None:
    """snmpsim needs its records in OID order."""
    ordered = sorted(records, key=lambda record: tuple(int(part) for part in record[0].split(".")))
    path.write_text("".join(f"{oid}|{tag}|{value}\n" for oid, tag, value in ordered))


def writable_walk(walk: Path, column: str) -> str:
    """A recorded walk whose `column` (an INTEGER per outlet) keeps what is SET to it."""
    pattern = re.compile(rf"^({re.escape(column)}\.\d+)\|2\|(\d+)$", re.MULTILINE)
    text, count = pattern.subn(r"\1|2:writecache|value=\2", walk.read_text())
    assert count, f"{walk.name} has no {column}"
    return text


@dataclass
class Agent:
    port: int

    def target(self, community: str, **changes) -> SnmpTarget:
        return SnmpTarget("127.0.0.1", self.port, community=community, **changes)

    def v3_target(self, **changes) -> SnmpTarget:
        credentials = {
            "version": "3",
            "username": V3_USER,
            "auth_protocol": "sha",
            "auth_key": V3_AUTH_KEY,
            "priv_protocol": "aes",
            "priv_key": V3_PRIV_KEY,
        }
        return SnmpTarget("127.0.0.1", self.port, **(credentials | changes))


@pytest.fixture(scope="session")
def snmpsim(tmp_path_factory):
    """One snmpsim process; the data file is chosen by community (v2c) or, for v3 with no
    context name, `self.snmprec`, the switch."""
    root = tmp_path_factory.mktemp("snmpsim")
    data = root / "data"
    data.mkdir()
    spdu = writable_walk(WALKS / "apc-7902b.snmprec", "1.3.6.1.4.1.318.1.1.4.4.2.1.3")
    (data / "apc-spdu.snmprec").write_text(spdu)
    rpdu = writable_walk(WALKS / "apc-8932.snmprec", "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4")
    (data / "apc-rpdu.snmprec").write_text(rpdu)
    write_snmprec(data / "switch.snmprec", switch_records(SWITCH_PORTS))
    write_snmprec(data / "self.snmprec", switch_records(SWITCH_PORTS))
    big = {10000 + n: f"Te1/{n // 48}/{n % 48 + 1}" for n in range(BIG_SWITCH_PORTS)}
    write_snmprec(data / "big.snmprec", switch_records(big, with_vlan=False))
    port = free_udp_ports(1, start=43000)
    log = root / "snmpsim.log"
    # Run as root, snmpsim insists on switching to another user, who then cannot read a
    # Python installed under /root. SNMPSIM_ALLOW_ROOT=true is snmpsim's own switch to stay
    # the user it was started as (root in CI); as any other user it changes nothing.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snmpsim.commands.responder",
            f"--data-dir={data}",
            f"--cache-dir={root / 'cache'}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
            f"--v3-user={V3_USER}",
            f"--v3-auth-key={V3_AUTH_KEY}",
            "--v3-auth-proto=SHA",
            f"--v3-priv-key={V3_PRIV_KEY}",
            "--v3-priv-proto=AES",
            f"--logging-method=file:{log}",
        ],
        env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    agent = Agent(port)
    try:
        _wait_until_it_answers(agent, process, log)
        yield agent
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_it_answers(agent: Agent, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    with override_settings(PANEL_SNMP_TIMEOUT=0.5, PANEL_SNMP_RETRIES=0):
        while True:
            try:
                for community in ("switch", "apc-spdu", "apc-rpdu", "big"):  # builds each index
                    snmp.get(agent.target(community), [SYS_DESCR])
                return
            except snmp.SnmpUnreachable:
                text = log.read_text() if log.exists() else ""
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"snmpsim did not start:\n{text[-3000:]}") from None


@pytest.fixture
def fast_snmp(settings):
    """A bound of 0.5 s x 2 tries, so silence is found out quickly."""
    settings.PANEL_SNMP_TIMEOUT = 0.5
    settings.PANEL_SNMP_RETRIES = 1
    return settings


@pytest.fixture
def data_port(owned_server):
    """A data port of owned_server, whose owner has had it since before any traffic here."""
    Server.objects.filter(pk=owned_server.pk).update(owner_since=datetime(2026, 1, 1, tzinfo=UTC))
    owned_server.refresh_from_db()
    return make_port(owned_server)
