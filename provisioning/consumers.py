"""The serial console's WebSocket: `/ws/servers/<id>/console/?token=...[&takeover=1]`.

Binary frames carry the console: the serial port's output to the browser, keys typed from
it (text frames are taken as keys too). The panel speaks in text frames of JSON
(`{"type": "open" | "notice" | "closed", "message": ...}`), and closes the socket with a
code of `provisioning.consoles` and the reason.
"""

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from panel import audit
from panel.sources import forwarded_client
from provisioning import consoles
from provisioning.bmc import BmcError, BmcTarget
from provisioning.bmc.sol import SolConsole

logger = logging.getLogger(__name__)
INTERNAL_ERROR = 1011  # WebSocket's "the server met an unexpected condition"
CHECK_SECONDS = 1.0  # how often an open console asks whether it must end
HANDOVER_SECONDS = 5.0  # a takeover waits this long at most for the holder to let go


class ConsoleConsumer(AsyncWebsocketConsumer):
    session = sol = task = None

    async def connect(self):
        await self.accept()
        headers = dict(self.scope["headers"])
        peer = (self.scope.get("client") or [None])[0]
        self.address = forwarded_client(peer, headers.get(b"x-forwarded-for", b"").decode())
        query = parse_qs(self.scope["query_string"].decode())
        try:
            self.session = await self._db(
                consoles.open_console,
                token=query.get("token", [""])[0],
                server_id=self.scope["url_route"]["kwargs"]["server_id"],
                viewer=self.scope.get("user"),
                takeover=query.get("takeover") == ["1"],
            )
        except consoles.ConsoleRefused as refusal:
            await self._say_closed(refusal.code, refusal.message)
            return
        self.last_traffic = time.monotonic()
        self.task = asyncio.create_task(self._hold())

    async def _db(self, function, **kwargs):
        """Run an ORM call in Channels' database thread (which closes connections as Django
        does after a request), audited as coming from the browser's address."""

        def call():
            with audit.source_address(self.address):
                return function(**kwargs)

        return await database_sync_to_async(call)()

    async def _say(self, kind: str, message: str) -> None:
        await self.send(text_data=json.dumps({"type": kind, "message": message}))

    async def _say_closed(self, code: int, message: str) -> None:
        await self._say("closed", message)
        await self.close(code=code, reason=message.encode()[:123].decode("utf-8", "ignore"))

    async def _hold(self) -> None:
        """Hold the BMC's console until the viewer leaves or the session must end."""
        code, reason, viewer_left = consoles.ENDED, "", False
        try:
            deadline = time.monotonic() + HANDOVER_SECONDS
            while not await self._db(consoles.handed_over, session=self.session):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            target = await self._db(BmcTarget.for_bmc, bmc=self.session.server.bmc)
            self.sol = await SolConsole.open(target, timeout=settings.PANEL_BMC_TIMEOUT)
            await self._say("open", f"Connected to the serial console of {self.session.server}.")
            reason = await self._relay()
        except BmcError as exc:
            code, reason = consoles.BMC_FAILED, exc.message
        except asyncio.CancelledError:
            viewer_left, reason = True, "The viewer closed the console."
        except Exception:
            # Whatever failed (the database, say), the viewer learns the console ended.
            logger.exception("console of server %s failed", self.session.server_id)
            code, reason = INTERNAL_ERROR, "The panel failed to keep the console open."
        finally:
            if self.sol is not None:
                await self.sol.close()
            await self._db(consoles.close_console, session=self.session, reason=reason)
        if not viewer_left:
            await self._say_closed(code, reason)

    async def _relay(self) -> str:
        """Send the console's output to the browser until the session must end; why it did."""
        reader = asyncio.create_task(self._send_output())
        try:
            while True:
                await asyncio.wait({reader}, timeout=CHECK_SECONDS)
                if reader.done():
                    reader.result()
                why = await self._db(consoles.why_end, session=self.session)
                if why:
                    return why
                idle = time.monotonic() - self.last_traffic
                if idle > settings.PANEL_CONSOLE_IDLE_SECONDS:
                    return f"Closed after {settings.PANEL_CONSOLE_IDLE_SECONDS} s without activity."
        finally:
            reader.cancel()

    async def _send_output(self) -> None:
        while True:
            output = await self.sol.read()
            self.last_traffic = time.monotonic()
            if isinstance(output, str):
                await self._say("notice", output)
            else:
                await self.send(bytes_data=output)

    async def receive(self, text_data=None, bytes_data=None):
        if self.sol is not None:
            self.last_traffic = time.monotonic()
            await self.sol.write(bytes_data if bytes_data is not None else text_data.encode())

    async def disconnect(self, code):
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
