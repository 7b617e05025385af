"""A BMC's serial console (IPMI Serial-over-LAN) for asyncio code: each console is a
`sol_process` child (pyghmi's console client wants a process of its own), spoken to
through its pipes."""

import asyncio
import contextlib
import json
import struct
import sys
from pathlib import Path

from pyghmi.exceptions import IpmiException

from provisioning.bmc import BmcError, BmcTarget
from provisioning.bmc.ipmi import IpmiDriver
from provisioning.bmc.sol_process import DATA, ERROR, INFO, READY

SOL_PROCESS = Path(__file__).with_name("sol_process.py")
EXIT_SECONDS = 5  # for the child to deactivate SOL and log out before it is killed


class SolConsole:
    def __init__(self, target: BmcTarget, process: asyncio.subprocess.Process):
        self.target, self.process = target, process

    @classmethod
    async def open(cls, target: BmcTarget, *, timeout: float) -> "SolConsole":
        """Log in to the BMC and activate SOL; BmcError (with a reason) when it will not."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SOL_PROCESS),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        console = cls(target, process)
        process.stdin.write(
            json.dumps(
                {
                    "address": target.address,
                    "port": target.port,
                    "username": target.username,
                    "password": target.password,
                    "cipher_suite": target.cipher_suite,
                }
            ).encode()
            + b"\n"
        )
        try:
            kind, body = await asyncio.wait_for(console._frame(), timeout)
            if kind != READY:
                raise console._refusal(body.decode("utf-8", "replace"))
        except BaseException as exc:
            await console.close()
            if isinstance(exc, TimeoutError):
                raise console._refusal("") from None
            raise
        return console

    def _refusal(self, text: str) -> BmcError:
        """Our error for what pyghmi said (nothing: the BMC did not answer)."""
        return IpmiDriver(self.target)._translate("open the serial console", IpmiException(text))

    async def _frame(self) -> tuple[bytes, bytes]:
        try:
            header = await self.process.stdout.readexactly(5)
            body = await self.process.stdout.readexactly(struct.unpack("!I", header[1:])[0])
        except asyncio.IncompleteReadError:
            return ERROR, b"Session no longer connected"
        return header[:1], body

    async def read(self) -> bytes | str:
        """What the serial port sent (bytes), or a notice from the BMC (text). BmcError when
        the session ends."""
        kind, body = await self._frame()
        if kind == DATA:
            return body
        text = body.decode("utf-8", "replace")
        if kind == INFO:
            return text
        raise self._refusal(text)

    async def write(self, keys: bytes) -> None:
        """Keys typed while the console closes (its child is going) are dropped."""
        if self.process.stdin.is_closing():
            return
        self.process.stdin.write(keys)
        with contextlib.suppress(ConnectionResetError):  # the child has just gone
            await self.process.stdin.drain()

    async def close(self) -> None:
        """Deactivate SOL and log out; a child that does not manage within EXIT_SECONDS is
        killed (the BMC then ends the session on its own time)."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), EXIT_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
