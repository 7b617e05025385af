"""One IPMI Serial-over-LAN session in a process of its own, run by `provisioning.bmc.sol`.

pyghmi's console client keeps its sessions in process-wide tables served by one I/O thread
(a `Command` in the same process blocked console activation), so each console gets its own
process, which imports nothing but pyghmi. Its stdin brings one JSON line (the BMC, its
credentials and the cipher suite it agreed to), then the keys typed; its stdout carries
frames: a kind byte, a 4-byte length and the body. End of stdin deactivates SOL and logs out.
"""

import json
import queue
import struct
import sys
import threading

from pyghmi import exceptions
from pyghmi.ipmi import console
from pyghmi.ipmi.private import session

DATA, READY, ERROR, INFO = b"D", b"R", b"E", b"I"
SUITE_3 = 3
TICK_SECONDS = 0.05  # how long typed keys may wait for the session's event loop


class _Sha1FirstSession(session.Session):
    """Proposes cipher suite 3 at once, for BMCs known to refuse 17. pyghmi's console would
    propose 17 and, against a BMC that wrongly accepts it, fail in the RAKP exchange."""

    def _initsession(self):
        super()._initsession()
        self.attemptedhash = 1


class Frames:
    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()
        self.said_ready = False

    def ready(self) -> None:
        """Say once that SOL is active, before the first data."""
        if not self.said_ready:
            self.said_ready = True
            self.send(READY)

    def send(self, kind: bytes, body: bytes = b"") -> None:
        with self.lock:
            self.stream.write(kind + struct.pack("!I", len(body)) + body)
            self.stream.flush()

    def console_output(self, output) -> None:
        """pyghmi's iohandler: bytes from the serial port, or a dict telling what happened."""
        if isinstance(output, dict):
            kind = ERROR if "error" in output else INFO
            self.send(kind, str(output.get("error") or output.get("info")).encode())
        else:
            self.ready()  # data comes in the same turn of pyghmi's loop as the activation
            self.send(DATA, bytes(output))


def _read_keys(keys: queue.SimpleQueue) -> None:
    while chunk := sys.stdin.buffer.read1(4096):
        keys.put(chunk)
    keys.put(None)


def main() -> None:
    target = json.loads(sys.stdin.buffer.readline())
    frames = Frames(sys.stdout.buffer)
    credentials = {
        "bmc": target["address"],
        "port": target["port"],
        "userid": target["username"].encode(),
        "password": target["password"].encode(),
    }
    login = _Sha1FirstSession if target["cipher_suite"] == SUITE_3 else session.Session
    try:
        # Log in with the suite the panel remembered; the console then joins this session
        # (pyghmi hands a logged-in session to a new client with the same credentials).
        ipmi_session = login(**credentials)
    except exceptions.IpmiException as exc:
        frames.send(ERROR, str(exc.args[0] if exc.args and exc.args[0] else "").encode())
        return
    # force: the panel is the only broker of this BMC's console (a database row says who
    # holds it), so a SOL session still active on the BMC is a leftover, taken over.
    sol = console.Console(iohandler=frames.console_output, force=True, **credentials)
    keys = queue.SimpleQueue()
    threading.Thread(target=_read_keys, args=(keys,), daemon=True).start()
    while not sol.broken:
        sol.wait_for_rsp(TICK_SECONDS)
        if sol.connected:
            frames.ready()
        while not keys.empty():
            chunk = keys.get()
            if chunk is None:
                sol.close()
                if ipmi_session.logged:
                    ipmi_session.logout()
                return
            sol.send_data(chunk)


if __name__ == "__main__":
    main()
