"""SNMP for switches and PDUs: pysnmp 7 (asyncio) behind a small, bounded interface.

Each request waits `PANEL_SNMP_TIMEOUT` per try and is resent `PANEL_SNMP_RETRIES` times, so a
silent device fails after timeout x (retries + 1), plus a little. Failures are our own errors,
worded for a person; secrets never appear in them, in logs or in a repr.

Engines and event loops: a pysnmp `SnmpEngine` takes ~40 ms to build, is not thread-safe, and
is tied to the event loop it first runs on. So engines live per event loop (one for all v2c
communities, one per set of v3 credentials: see `_credentials`), and sync callers (Django
request threads, django-q2 workers) hand their requests to the process's one SNMP loop, served
by a daemon thread: requests from many threads share its engines safely, and a sync get costs
~1 ms (v2c) or ~2 ms (v3 authPriv) on loopback instead of ~85 ms with an engine and a loop per
call. A forked worker starts its own loop (it never shares its parent's socket). Async code
(the traffic poll round) awaits the `*_async` functions, on that loop through `run()` or on a
loop of its own; it must not call the sync functions, which would wait on the loop they block.
"""

import asyncio
import atexit
import ipaddress
import os
import socket
import threading
import weakref
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from pyasn1.type import univ
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    usmAesCfb128Protocol,
    usmAesCfb192Protocol,
    usmAesCfb256Protocol,
    usmDESPrivProtocol,
    usmHMAC128SHA224AuthProtocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC256SHA384AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.proto import errind, rfc1902, rfc1905

Value = int | str | None
T = TypeVar("T")

# Var-binds per request: ~50 counters fit a 1,500-byte datagram, and agents cap responses
# (snmpsim at 64 var-binds); a `tooBig` answer splits the request in two.
MAX_VARBINDS = 48
# A walk stops with an error past this many rows: an agent that never ends its table.
MAX_WALK_ROWS = 200_000
BOUND_MARGIN = 0.5  # seconds beyond timeout x tries before a request is abandoned
NULL = rfc1902.Null("")
_LCD = CommandGeneratorLcdConfigurator()

AUTH_PROTOCOLS = {
    "md5": usmHMACMD5AuthProtocol,
    "sha": usmHMACSHAAuthProtocol,
    "sha224": usmHMAC128SHA224AuthProtocol,
    "sha256": usmHMAC192SHA256AuthProtocol,
    "sha384": usmHMAC256SHA384AuthProtocol,
    "sha512": usmHMAC384SHA512AuthProtocol,
}
# AES-192/256 with the key extension switches use (Cisco's; net-snmp's "AES192C").
PRIV_PROTOCOLS = {
    "des": usmDESPrivProtocol,
    "aes": usmAesCfb128Protocol,
    "aes192": usmAesCfb192Protocol,
    "aes256": usmAesCfb256Protocol,
}
AUTH_INDICATIONS = (
    errind.UnknownUserName,
    errind.WrongDigest,
    errind.DecryptionError,
    errind.AuthenticationFailure,
    errind.AuthenticationError,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.UnknownCommunityName,
)
MISSING = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)
REFUSAL_HINTS = {
    "notWritable": "it is read-only here, or this community or user may not write it",
    "readOnly": "it is read-only here, or this community or user may not write it",
    "noAccess": "this community or user has no access to it (a read-only community?)",
    "authorizationError": "this community or user is not allowed to do that",
    "noSuchName": "the device does not have it",
    "noCreation": "the device does not have it",
    "wrongType": "the device does not accept that value",
    "wrongValue": "the device does not accept that value",
    "badValue": "the device does not accept that value",
    "wrongLength": "the device does not accept that value",
    "inconsistentValue": "the device does not accept that value now",
    "resourceUnavailable": "the device is short of resources; try again later",
}


class SnmpError(Exception):
    """The SNMP request failed; `message` tells a person what happened and what to check."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SnmpUnreachable(SnmpError):
    """No answer within the bound: the device is down, unreachable, or ignores our community."""


class SnmpAuthFailed(SnmpError):
    """The agent refused our credentials (SNMP v3 user, keys or protocols)."""


class SnmpRefused(SnmpError):
    """The agent answered with an error: not writable, no such object, a wrong value..."""


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to reach one agent; the secrets are decrypted only for the call."""

    address: str
    port: int = 161
    version: str = "2c"
    community: str = field(default="", repr=False)
    username: str = ""
    auth_protocol: str = ""
    auth_key: str = field(default="", repr=False)
    priv_protocol: str = ""
    priv_key: str = field(default="", repr=False)

    @classmethod
    def for_device(cls, device) -> "SnmpTarget":
        """The target of a Switch or Pdu (an `inventory.models.SnmpDevice`)."""
        v3 = device.snmp_version == "3"
        return cls(
            address=device.address,
            port=device.port,
            version=device.snmp_version,
            community="" if v3 else device.reveal_secret("community"),
            username=device.username if v3 else "",
            auth_protocol=device.auth_protocol if v3 else "",
            auth_key=device.reveal_secret("auth_key") if v3 else "",
            priv_protocol=device.priv_protocol if v3 else "",
            priv_key=device.reveal_secret("priv_key") if v3 else "",
        )

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def bound_seconds() -> float:
    """The longest one request waits for a silent agent."""
    return settings.PANEL_SNMP_TIMEOUT * (settings.PANEL_SNMP_RETRIES + 1)


# --- the sync interface -------------------------------------------------------------------


def get(target: SnmpTarget, oids: Sequence[str], doing: str = "") -> dict[str, Value]:
    """Read `oids`; an object the agent does not have reads as None."""
    return run(get_async(target, oids, doing))


def set_values(
    target: SnmpTarget, values: Sequence[tuple[str, int | str]], doing: str = ""
) -> None:
    """Write (oid, value) pairs: an int is sent as an INTEGER, a str as an OCTET STRING."""
    run(set_values_async(target, values, doing))


def walk(
    target: SnmpTarget, columns: Sequence[str], doing: str = ""
) -> dict[str, dict[str, Value]]:
    """Every row of each table column: {column: {index suffix: value}}."""
    return run(walk_async(target, columns, doing))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run an SNMP coroutine on the process's SNMP loop and wait for its result."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _snmp_loop())
    try:
        return future.result()
    finally:
        future.cancel()  # does nothing once done; stops the work if this thread was interrupted


# --- the async interface ------------------------------------------------------------------


async def get_async(target: SnmpTarget, oids: Sequence[str], doing: str = "") -> dict[str, Value]:
    doing = doing or f"read {_count(len(oids), 'value')}"
    values: dict[str, Value] = {}
    for chunk in _chunks(oids, MAX_VARBINDS):
        values.update(await _get_chunk(target, chunk, doing))
    return values


async def set_values_async(
    target: SnmpTarget, values: Sequence[tuple[str, int | str]], doing: str = ""
) -> None:
    doing = doing or f"write {_count(len(values), 'value')}"
    for chunk in _chunks(values, MAX_VARBINDS):
        var_binds = await _exchange(
            target,
            doing,
            cmdgen.SetCommandGenerator(),
            [(rfc1902.ObjectName(oid), _snmp_value(value)) for oid, value in chunk],
        )
        for name, value in var_binds:
            if isinstance(value, MISSING):
                # What snmpsim answers for a record it cannot write, instead of an error status.
                raise SnmpRefused(
                    f"The SNMP agent at {target} did not {doing}: it has no writable "
                    f"{name.prettyPrint()} (it answered {type(value).__name__})."
                )


async def walk_async(
    target: SnmpTarget, columns: Sequence[str], doing: str = ""
) -> dict[str, dict[str, Value]]:
    """Walk table columns side by side with GETBULK until each leaves its column."""
    doing = doing or f"walk {_count(len(columns), 'table column')}"
    prefixes = {column: tuple(univ.ObjectIdentifier(column)) for column in columns}
    tables: dict[str, dict[str, Value]] = {column: {} for column in columns}
    cursor = {column: prefixes[column] for column in columns}
    rows = 0
    while cursor:
        active = list(cursor)
        repetitions = max(1, MAX_VARBINDS // len(active))
        var_binds = await _exchange(
            target,
            doing,
            cmdgen.BulkCommandGenerator(),
            [(rfc1902.ObjectName(cursor[column]), NULL) for column in active],
            0,
            repetitions,
        )
        if not var_binds:
            break
        for position, (name, value) in enumerate(var_binds):
            column = active[position % len(active)]
            if column not in cursor:
                continue
            oid, prefix = tuple(name), prefixes[column]
            if isinstance(value, rfc1905.EndOfMibView) or oid[: len(prefix)] != prefix:
                del cursor[column]
                continue
            if oid <= cursor[column]:
                raise SnmpError(
                    f"The SNMP agent at {target} answered out of order while we tried to "
                    f"{doing} ({name.prettyPrint()}); the device's SNMP agent is faulty."
                )
            tables[column][".".join(str(part) for part in oid[len(prefix) :])] = _python(value)
            cursor[column] = oid
            rows += 1
        if rows > MAX_WALK_ROWS:
            raise SnmpError(
                f"The SNMP agent at {target} returned more than {MAX_WALK_ROWS} rows while we "
                f"tried to {doing}; stopped."
            )
    return tables


async def gather_bounded(coroutines: Iterable[Coroutine[Any, Any, T]], limit: int) -> list:
    """Await coroutines with at most `limit` running at once; an SnmpError is returned, not raised.

    Results come back in the order given.
    """
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with semaphore:
            try:
                return await coroutine
            except SnmpError as exc:
                return exc

    return await asyncio.gather(*(one(c) for c in coroutines))


# --- requests -----------------------------------------------------------------------------


async def _get_chunk(target: SnmpTarget, oids: Sequence[str], doing: str) -> dict[str, Value]:
    try:
        var_binds = await _exchange(
            target,
            doing,
            cmdgen.GetCommandGenerator(),
            [(rfc1902.ObjectName(oid), NULL) for oid in oids],
        )
    except _TooBig:
        if len(oids) == 1:
            raise SnmpRefused(
                f"The SNMP agent at {target} cannot fit one value in a response while we tried "
                f"to {doing} ({oids[0]})."
            ) from None
        half = len(oids) // 2
        return {
            **await _get_chunk(target, oids[:half], doing),
            **await _get_chunk(target, oids[half:], doing),
        }
    return {oid: _python(value) for oid, (_, value) in zip(oids, var_binds, strict=True)}


class _TooBig(Exception):
    """The agent's response would not fit: ask for fewer values at once."""


async def _exchange(
    target: SnmpTarget, doing: str, generator, var_binds: list, *bulk_counts: int
) -> Sequence:
    """One request and its response, bounded in time, pysnmp's failures made ours."""
    bound = bound_seconds()
    engine = _engine(target)
    try:
        async with asyncio.timeout(bound + BOUND_MARGIN):
            transport = await _transport(target)
            indication, status, index, var_binds = await _send(
                engine, target, transport, generator, var_binds, bulk_counts
            )
    except TimeoutError:
        indication, status, index, var_binds = errind.requestTimedOut, 0, 0, ()
    except (OSError, PySnmpError) as exc:
        raise SnmpError(
            f"Could not send an SNMP request to {target} to {doing}: {type(exc).__name__}. "
            "Check the device's address and port."
        ) from None
    if indication:
        raise _indication_error(target, doing, indication, bound)
    if status:
        name = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
        if name == "tooBig":
            raise _TooBig()
        oid = var_binds[int(index) - 1][0].prettyPrint() if 0 < int(index) <= len(var_binds) else ""
        hint = REFUSAL_HINTS.get(name, "the device refused the request")
        where = f" on {oid}" if oid else ""
        raise SnmpRefused(f"The SNMP agent at {target} refused to {doing}: {name}{where} ({hint}).")
    return var_binds


async def _send(engine, target, transport, generator, var_binds, bulk_counts) -> tuple:
    """pysnmp's get_cmd/set_cmd/bulk_cmd without their MIB lookup of every OID sent (70% of
    the CPU a counter poll took): var-binds go out as (OID, value) pairs and come back so."""
    snmp_engine = engine.snmp_engine
    address_name, _ = _LCD.configure(snmp_engine, engine.auth_data(target), transport, b"")
    future = asyncio.get_running_loop().create_future()

    def answered(_engine, _handle, indication, status, index, var_binds, _context):
        if not future.done():  # abandoned at the bound
            future.set_result((indication, status, index, var_binds))

    generator.send_varbinds(snmp_engine, address_name, None, b"", *bulk_counts, var_binds, answered)
    return await future


def _indication_error(target: SnmpTarget, doing: str, indication, bound: float) -> SnmpError:
    if isinstance(indication, errind.RequestTimedOut):
        tries = settings.PANEL_SNMP_RETRIES + 1
        if target.version == "3":
            check = "and that SNMP is enabled on it"
        else:
            check = (
                "and the community: an SNMP v2c agent ignores a wrong community instead of "
                "refusing it"
            )
        return SnmpUnreachable(
            f"No answer from the SNMP agent at {target} within {bound:g} s "
            f"({_count(tries, 'try', 'tries')}) while trying to {doing}. Check that the device "
            f"is on and reachable from the panel on UDP port {target.port}, {check}."
        )
    if isinstance(indication, AUTH_INDICATIONS):
        return SnmpAuthFailed(
            f"The SNMP agent at {target} refused our credentials while we tried to {doing} "
            f"({indication}). Check the SNMP v3 user, its authentication and privacy "
            "protocols and keys stored for this device."
        )
    return SnmpError(f"SNMP request to {target} failed while trying to {doing}: {indication}.")


async def _transport(target: SnmpTarget):
    timeout, retries = settings.PANEL_SNMP_TIMEOUT, settings.PANEL_SNMP_RETRIES
    try:
        ipv6 = ipaddress.ip_address(target.address).version == 6
    except ValueError:
        ipv6 = False  # a host name: resolved to IPv4
    kind = Udp6TransportTarget if ipv6 else UdpTransportTarget
    try:
        return await kind.create((target.address, target.port), timeout=timeout, retries=retries)
    except (PySnmpError, socket.gaierror):
        raise SnmpUnreachable(
            f"Cannot resolve the address of the SNMP agent at {target}. Check the device's address."
        ) from None


# --- values -------------------------------------------------------------------------------


def _python(value) -> Value:
    if isinstance(value, MISSING):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return socket.inet_ntoa(value.asOctets())
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.OctetString):
        return value.asOctets().decode("utf-8", errors="replace").rstrip("\x00")
    return value.prettyPrint()


def _snmp_value(value: int | str):
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"an SNMP value is an int or a str, not {type(value).__name__}")
    return rfc1902.Integer32(value) if isinstance(value, int) else rfc1902.OctetString(value)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count(number: int, word: str, plural: str = "") -> str:
    return f"{number} {word if number == 1 else plural or word + 's'}"


# --- engines and the SNMP loop ------------------------------------------------------------


class _Engine:
    """A pysnmp engine for one event loop and one set of credentials."""

    def __init__(self, target: SnmpTarget):
        self.snmp_engine = SnmpEngine()
        self.auth = _auth_data(target)

    def auth_data(self, target: SnmpTarget) -> CommunityData | UsmUserData:
        if target.version == "3":
            return self.auth
        return CommunityData(target.community, mpModel=1)  # noqa: S508 - devices offering only v2c


def _auth_data(target: SnmpTarget) -> CommunityData | UsmUserData | None:
    if target.version != "3":
        return None
    auth = AUTH_PROTOCOLS.get(target.auth_protocol)
    priv = PRIV_PROTOCOLS.get(target.priv_protocol) if auth else None
    for protocol, key, what in ((auth, target.auth_key, "auth"), (priv, target.priv_key, "priv")):
        if protocol and len(key) < 8:
            raise SnmpAuthFailed(
                f"The SNMP v3 {what} key stored for {target} is shorter than 8 characters, "
                "which SNMP does not allow. Store the device's real key."
            )
    return UsmUserData(
        target.username,
        authKey=target.auth_key if auth else None,
        privKey=target.priv_key if priv else None,
        authProtocol=auth,
        privProtocol=priv,
    )


def _credentials(target: SnmpTarget) -> tuple:
    """Which engine serves a target.

    pysnmp keeps one key set per SNMP v3 user name in an engine (its USM table is indexed by
    engine ID and user name, and the row for each agent is cloned from that one): devices that
    share a user name with different keys would overwrite each other's keys mid-request. So
    each set of v3 credentials gets an engine of its own; all v2c communities share one.
    """
    if target.version != "3":
        return ("2c",)
    return (
        target.username,
        target.auth_protocol,
        target.auth_key,
        target.priv_protocol,
        target.priv_key,
    )


_engines: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, _Engine]]" = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()
_loop: tuple[int, asyncio.AbstractEventLoop, threading.Thread] | None = None


def _engine(target: SnmpTarget) -> _Engine:
    loop, key = asyncio.get_running_loop(), _credentials(target)
    with _lock:
        engines = _engines.setdefault(loop, {})
        engine = engines.get(key)
    if engine is None:
        engine = _Engine(target)  # may refuse the credentials before anything is kept
        with _lock:
            engine = engines.setdefault(key, engine)
    return engine


def _snmp_loop() -> asyncio.AbstractEventLoop:
    """The process's SNMP loop, started on first use (again in a forked child)."""
    global _loop
    with _lock:
        if _loop is None or _loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_serve, args=(loop,), name="snmp", daemon=True)
            thread.start()
            _loop = (os.getpid(), loop, thread)
        return _loop[1]


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        for engine in _engines.pop(loop, {}).values():
            engine.snmp_engine.close_dispatcher()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


@atexit.register
def _stop_snmp_loop() -> None:
    if _loop is not None and _loop[0] == os.getpid():
        _, loop, thread = _loop
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=2)
