"""SNMP agents on pysnmp's agent side (command responder), answering from live objects.

pysnmp encodes, authenticates (v2c communities, a v3 user with SHA + AES) and checks every
varbind against VACM; our instrumentation controller (pysnmp's documented extension point,
see its custom-mib-controller example) answers from a sorted table of OIDs whose values are
read from the simulated hardware at the moment of the request, and whose writes change it.
A MibTree of MibScalarInstance objects would do the same, an order of magnitude slower.
"""

import asyncio
import bisect
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902
from pysnmp.smi import error, exval, instrum

Oid = tuple[int, ...]
# The whole tree from iso.org.dod.internet: what our communities and user may read (write).
INTERNET = (1, 3, 6, 1)
# pysnmp 7.1.30's VACM *returns* (rather than raises) notInView for a view with no entries,
# which its command responder takes as "allowed": a community with an empty write view could
# write. A write view holding only zeroDotZero, where no object lives, refuses every write.
NOTHING = (0, 0)
SYSTEM = (1, 3, 6, 1, 2, 1, 1)


@dataclass(frozen=True)
class SnmpCredentials:
    """What simlab's agents accept: `community` reads, `write_community` reads and writes,
    and one v3 user (authPriv, SHA + AES-128) reads and writes."""

    community: str = "public"
    write_community: str = "private"
    username: str = "simlab"
    auth_key: str = "simlab-auth-key"
    priv_key: str = "simlab-priv-key"


@dataclass
class ManagedObject:
    """One object instance: `read` returns its current value (a pysnmp syntax object);
    `write`, for writable ones, checks a new value (raising WrongValueError) and returns the
    function that applies it, so a SET of several varbinds applies all of them or none."""

    read: Callable
    write: Callable | None = None


class ManagedObjects(instrum.AbstractMibInstrumController):
    """The instrumentation of one agent: GET, GETNEXT/GETBULK and SET over `add`ed objects."""

    def __init__(self):
        self._objects: dict[Oid, ManagedObject] = {}
        self._sorted: list[Oid] | None = None
        self._types: set[Oid] = set()  # OIDs of object types (columns, scalars)

    def add(self, oid: Oid, read: Callable, write: Callable | None = None) -> None:
        """Serve `oid` (an object type's OID + its instance index, `.0` for a scalar)."""
        self._objects[oid] = ManagedObject(read, write)
        self._types.add(oid[:-1])
        self._sorted = None

    def _in_order(self) -> list[Oid]:
        if self._sorted is None:
            self._sorted = sorted(self._objects)
        return self._sorted

    def _visible(self, oid: Oid, value, idx: int, view: str, context: dict) -> bool:
        """VACM's answer for this varbind; raises when access is refused outright."""
        context["idx"] = idx
        return not context["acFun"](view, (oid, value), **context)

    def read_variables(self, *var_binds, **context):
        answers = []
        for idx, (name, _) in enumerate(var_binds):
            oid = tuple(name)
            managed = self._objects.get(oid)
            if managed is None:
                missing = exval.noSuchInstance if oid[:-1] in self._types else exval.noSuchObject
                answers.append((name, missing))
                continue
            value = managed.read()
            answers.append(
                (
                    name,
                    value
                    if self._visible(oid, value, idx, "read", context)
                    else exval.noSuchObject,
                )
            )
        return answers

    def read_next_variables(self, *var_binds, **context):
        answers = []
        in_order = self._in_order()
        for idx, (name, _) in enumerate(var_binds):
            position = bisect.bisect_right(in_order, tuple(name))
            answer = (name, exval.endOfMibView)
            while position < len(in_order):
                oid = in_order[position]
                value = self._objects[oid].read()
                try:
                    if self._visible(oid, value, idx, "read", context):
                        answer = (oid, value)
                        break
                except error.NoAccessError:  # e.g. a Counter64 asked over SNMPv1
                    pass
                position += 1
            answers.append(answer)
        return answers

    def write_variables(self, *var_binds, **context):
        changes = []
        for idx, (name, value) in enumerate(var_binds):
            oid = tuple(name)
            managed = self._objects.get(oid)
            if managed is None:
                raise error.NoSuchObjectError(name=name, idx=idx)  # answered notWritable
            current = managed.read()
            if managed.write is None or not self._visible(oid, current, idx, "write", context):
                raise error.NotWritableError(name=name, idx=idx)
            if value.tagSet != current.tagSet:
                raise error.WrongTypeError(name=name, idx=idx)
            changes.append(managed.write(value, name=name, idx=idx))
        for apply in changes:
            apply()
        return [(name, self._objects[tuple(name)].read()) for name, _ in var_binds]


def add_system_group(
    objects: ManagedObjects, agent: Callable, *, description: str, object_id: Oid, name: str
) -> None:
    """SNMPv2-MIB's sysDescr, sysObjectID, sysUpTime (from `agent()`'s clock) and sysName."""
    objects.add((*SYSTEM, 1, 0), lambda: rfc1902.OctetString(description))
    objects.add((*SYSTEM, 2, 0), lambda: rfc1902.ObjectIdentifier(object_id))
    objects.add((*SYSTEM, 3, 0), lambda: rfc1902.TimeTicks(agent().sys_uptime()))
    objects.add((*SYSTEM, 5, 0), lambda: rfc1902.OctetString(name))


class _Transport(udp.UdpAsyncioTransport):
    """UDP that an agent can tell to drop every request: a device that is dead."""

    def __init__(self, agent: "SnmpAgent", **kwargs):
        super().__init__(**kwargs)
        self.agent = agent

    def datagram_received(self, datagram, transportAddress):
        if not self.agent.silent:
            super().datagram_received(datagram, transportAddress)


class SnmpAgent:
    """An SNMP engine on its own UDP port (bound at once, so `port` is known; 0 = any free
    port), answering GET/GETNEXT/GETBULK/SET from `objects` once `serve_agents` runs it."""

    def __init__(
        self,
        objects: ManagedObjects,
        credentials: SnmpCredentials,
        *,
        port: int = 0,
        address: str = "127.0.0.1",
    ):
        self.objects = objects
        self.credentials = credentials
        self.silent = False
        self.started = time.monotonic()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((address, port))
        self.port = self.socket.getsockname()[1]

    def sys_uptime(self) -> int:
        """Hundredths of a second since the agent (re)started."""
        return int((time.monotonic() - self.started) * 100)

    def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start answering; in the thread that runs `loop`."""
        snmp_engine = engine.SnmpEngine()
        transport = _Transport(self, loop=loop).open_server_mode(sock=self.socket)
        config.add_transport(snmp_engine, udp.DOMAIN_NAME, transport)
        credentials = self.credentials
        config.add_v1_system(snmp_engine, "read-area", credentials.community)
        config.add_vacm_user(snmp_engine, 2, "read-area", "noAuthNoPriv", INTERNET, NOTHING)
        config.add_v1_system(snmp_engine, "write-area", credentials.write_community)
        config.add_vacm_user(snmp_engine, 2, "write-area", "noAuthNoPriv", INTERNET, INTERNET)
        config.add_v3_user(
            snmp_engine,
            credentials.username,
            config.USM_AUTH_HMAC96_SHA,
            credentials.auth_key,
            config.USM_PRIV_CFB128_AES,
            credentials.priv_key,
        )
        config.add_vacm_user(snmp_engine, 3, credentials.username, "authPriv", INTERNET, INTERNET)
        snmp_context = context.SnmpContext(snmp_engine)
        snmp_context.context_names[b""] = self.objects
        for responder in (
            cmdrsp.GetCommandResponder,
            cmdrsp.NextCommandResponder,
            cmdrsp.BulkCommandResponder,
            cmdrsp.SetCommandResponder,
        ):
            responder(snmp_engine, snmp_context)


class SnmpDevice:
    """A rack device answering SNMP: a subclass sets up its state, then calls this, which
    builds its agent from its `_objects()`."""

    def __init__(self, credentials: SnmpCredentials, *, name: str, port: int, address: str):
        self.name = name
        self.agent = SnmpAgent(self._objects(), credentials, port=port, address=address)

    def _objects(self) -> ManagedObjects:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "port": self.agent.port, "silent": self.agent.silent}

    def change(self, changes: dict) -> dict:
        """Test hooks: {"silent": true} makes a dead device (no answers at all)."""
        if "silent" in changes:
            self.agent.silent = bool(changes["silent"])
        return self.describe()


def serve_agents(agents: list[SnmpAgent]) -> None:
    """Answer SNMP for `agents` from one asyncio loop in a daemon thread; returns once they
    answer."""
    started = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for agent in agents:
            agent._open(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    threading.Thread(target=run, daemon=True, name="simlab-snmp").start()
    if not started.wait(timeout=30):
        raise RuntimeError("simlab's SNMP agents did not start")
