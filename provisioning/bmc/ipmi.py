"""IPMI over LAN (lanplus) through pyghmi, bounded in time, with our own errors.

Each call opens its own RMCP+ session (pyghmi's `simplesession`: one socket per
session, no process-wide I/O thread or session cache), runs its commands and logs
out. A call that outlives `PANEL_BMC_TIMEOUT` is abandoned, and since nothing is
shared, an abandoned call cannot stall calls to other BMCs. (pyghmi's default
session module shares sessions across a process: a BMC that stops answering then
held up calls to healthy ones, and a timed-out login blocked the next call to the
same BMC.)
"""

import contextlib
import select
import socket
import threading
from collections.abc import Callable

from django.conf import settings
from pyghmi import exceptions as pyghmi_exceptions
from pyghmi.ipmi.private import simplesession

from provisioning.bmc import BmcAuthFailed, BmcError, BmcTarget, BmcUnreachable

# IPMI 2.0: chassis control directives (table 28-4) and boot-flag device selectors (28-14).
CHASSIS_CONTROL = {"off": 0, "on": 1, "cycle": 2, "reset": 3, "soft_off": 5}
BOOT_SELECTOR = {"pxe": 0x04, "disk": 0x08, "cdrom": 0x14, "bios": 0x18}
BOOT_DEVICE_OF_SELECTOR = {selector: device for device, selector in BOOT_SELECTOR.items()}
BOOT_FLAGS_VALID, BOOT_FLAGS_PERSISTENT = 0x80, 0x40
NETFN_CHASSIS = 0x00
GET_CHASSIS_STATUS, CHASSIS_CONTROL_CMD = 0x01, 0x02
SET_BOOT_OPTIONS, GET_BOOT_OPTIONS = 0x08, 0x09
COMPLETION_CODES = {
    0xC1: "command not supported",
    0xCC: "invalid data in the request",
    0xD4: "insufficient privilege for this user",
    0xD5: "not possible in the present state",
}
AUTH_ERRORS = ("Incorrect password", "Unauthorized name", "Invalid role", "Unauthorized role")
UNREACHABLE_ERRORS = (
    "timeout",
    "Session failed",
    "Session no longer connected",
    "Unable to transmit",
)
SUITE_3, SUITE_17 = 3, 17


_thread_sockets = threading.local()


class _Session(simplesession.Session):
    """A pyghmi session whose socket the calling thread closes, whatever happens.

    pyghmi keeps failed sessions in class-level tables, so their sockets were never closed;
    once the process held 1,024 descriptors, select() in every new session failed and every
    BMC looked unreachable.
    """

    @classmethod
    def _assignsocket(cls, server=None):
        sock = super()._assignsocket(server)
        _thread_sockets.opened.append(sock)
        return sock

    def wait_for_rsp(self, timeout=None, callout=True):
        """Wait for the BMC's answer; on silence, retransmit (UDP loses packets).

        pyghmi's simplesession never retransmits ("TODO: implement retry"): one lost
        datagram left the call waiting for good. This waits the session's current retry
        interval and lets pyghmi's own `_timedout` resend, restart the login step, or give
        up once the intervals pass `maxtimeout`, as its threaded session does.
        """
        wait = self.timeout if timeout is None else timeout
        if select.select([self.socket], [], [], wait)[0]:
            self.process_pktqueue()
        elif timeout is None:
            self._timedout()

    def awaitresponse(self, retry):
        while retry and self.lastresponse is None and self.logged:
            self.wait_for_rsp()


class _Sha1FirstSession(_Session):
    """A session that proposes cipher suite 3 at once, for BMCs known to refuse 17."""

    def _initsession(self):
        super()._initsession()
        self.attemptedhash = 1


class IpmiDriver:
    """One BMC. `cipher_suite` tells, after a call, which suite the session used."""

    def __init__(self, target: BmcTarget, timeout: float | None = None):
        self.target = target
        self.timeout = timeout if timeout is not None else settings.PANEL_BMC_TIMEOUT
        self.cipher_suite = target.cipher_suite

    def power_state(self) -> str:
        """'on' or 'off', as the BMC reports the chassis."""
        status = self._call("read the power state", lambda s: _raw(s, GET_CHASSIS_STATUS))
        return "on" if status[0] & 1 else "off"

    def power(self, action: str) -> None:
        directive = CHASSIS_CONTROL[action]
        self._call(f"power {action}", lambda s: _raw(s, CHASSIS_CONTROL_CMD, [directive]))

    def boot_device(self) -> str:
        """The device the next boot will use, or 'default' when no override is set."""
        reply = self._call("read the boot device", lambda s: _raw(s, GET_BOOT_OPTIONS, [5, 0, 0]))
        if not reply[2] & BOOT_FLAGS_VALID:
            return "default"
        return BOOT_DEVICE_OF_SELECTOR.get(reply[3] & 0x3C, "default")

    def set_boot_device(self, device: str, persistent: bool = False) -> None:
        flags = BOOT_FLAGS_VALID | (BOOT_FLAGS_PERSISTENT if persistent else 0)

        def work(session):
            _raw(session, SET_BOOT_OPTIONS, [3, 8])  # clear the boot-info acknowledgement first
            _raw(session, SET_BOOT_OPTIONS, [5, flags, BOOT_SELECTOR[device], 0, 0, 0])

        self._call(f"set the boot device to {device}", work)

    def _call(self, doing: str, work: Callable):
        """Run `work` on a fresh session in a daemon thread; give up on it after the timeout.

        A daemon thread, not a pool: an abandoned call may spin in pyghmi's retries, and
        nothing should wait for it (a pool's threads are joined at interpreter exit).
        """
        outcome: dict = {}

        def target():
            try:
                outcome["value"] = self._run(doing, work)
            except BmcError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=target, daemon=True, name=f"ipmi {self.target}")
        thread.start()
        thread.join(self.timeout)
        if "error" in outcome:
            raise outcome["error"]
        if "value" in outcome:
            return outcome["value"]
        raise BmcUnreachable(
            f"No answer from the BMC at {self.target} within {self.timeout:g} s while trying "
            f"to {doing}. Check that it is powered and reachable from the panel."
        )

    def _run(self, doing: str, work):
        session = None
        _thread_sockets.opened = []
        try:
            session = self._open()
            return work(session)
        except pyghmi_exceptions.IpmiException as exc:
            raise self._translate(doing, exc) from None
        except OSError as exc:
            raise BmcUnreachable(
                f"Cannot reach the BMC at {self.target}: {exc.strerror or exc}."
            ) from None
        finally:
            if session is not None:
                _logout_quietly(session)
            for sock in _thread_sockets.opened:
                sock.close()

    def _open(self) -> simplesession.Session:
        target = self.target
        socket.getaddrinfo(target.address, target.port, 0, socket.SOCK_DGRAM)
        session_class = _Sha1FirstSession if self.cipher_suite == SUITE_3 else _Session
        session = session_class(
            bmc=target.address,
            userid=target.username.encode(),
            password=target.password.encode(),
            port=target.port,
            keepalive=False,
        )
        self.cipher_suite = SUITE_3 if session.attemptedhash == 1 else SUITE_17
        return session

    def _translate(self, doing: str, exc: pyghmi_exceptions.IpmiException) -> BmcError:
        text = str(exc.args[0]) if exc.args and exc.args[0] else ""
        code = getattr(exc, "ipmicode", 0)
        if any(marker in text for marker in AUTH_ERRORS):
            return BmcAuthFailed(
                f"The BMC at {self.target} refused the username or password ({text}). "
                "Check the credentials stored for this server."
            )
        # Before completion codes: pyghmi reports a command that ran out of retries as
        # 'timeout' with code 0xffff, which is silence, not an answer.
        if not text or any(marker.lower() in text.lower() for marker in UNREACHABLE_ERRORS):
            return BmcUnreachable(
                f"No answer from the BMC at {self.target} while trying to {doing}. "
                "Check that it is powered and reachable from the panel."
            )
        if code:
            reason = COMPLETION_CODES.get(code, "error")
            return BmcError(
                f"The BMC at {self.target} could not {doing}: {reason} "
                f"(IPMI completion code 0x{code:02x})."
            )
        return BmcError(f"The BMC at {self.target} could not {doing}: {text}.")


def _raw(session: simplesession.Session, command: int, data=()) -> bytes:
    reply = session.raw_command(netfn=NETFN_CHASSIS, command=command, data=data)
    if reply.get("error"):
        raise pyghmi_exceptions.IpmiException(reply["error"], reply.get("code", 0))
    return bytes(reply.get("data", b""))


def _logout_quietly(session: simplesession.Session) -> None:
    """Free the BMC's session slot; a BMC that already stopped answering is left alone."""
    if session.logged and not session.broken:
        with contextlib.suppress(pyghmi_exceptions.IpmiException, OSError):
            session.logout()
