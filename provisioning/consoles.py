"""The serial console: single-use tokens, one open session per server, and why one ends.

A token is issued to a user for a server (`issue_console`), valid `TOKEN_SECONDS` to
connect; the WebSocket that presents it (`provisioning.consumers`) opens the session
(`open_console`), holds the BMC's SOL session, asks `why_end` every second (taken over,
suspended, the server changed hands, its row gone) and closes it (`close_console`).
The database decides who holds a console, so any number of ASGI processes may serve them.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import Server
from panel import audit
from panel.exceptions import Conflict, NotAllowed
from panel.models import User
from provisioning.boot import digest
from provisioning.models import ConsoleSession
from provisioning.services import suspended_message

TOKEN_SECONDS = 60
# An open session whose process has not been seen for this long died with its process (a
# killed ASGI server): it no longer holds the console.
STALE_SECONDS = 30
# The close codes a browser sees (4000-4999 are the application's).
TOKEN_REFUSED, NOT_YOURS, BUSY, ENDED, BMC_FAILED = 4401, 4403, 4409, 4000, 4502


class ConsoleRefused(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class IssuedConsole:
    session: ConsoleSession
    token: str  # shown once; only its hash is stored


def _check_access(user: User, server: Server) -> None:
    if not (user.is_active and (user.is_admin or server.owner_id == user.pk)):
        raise NotAllowed("Only the server's owner or hosting staff may open its console.")
    if server.suspended and not user.is_admin:
        raise Conflict(suspended_message(server))
    if not hasattr(server, "bmc"):
        raise Conflict(f"{server.name} has no BMC enrolled.")


def issue_console(*, actor: User, server: Server) -> IssuedConsole:
    """A token that opens the server's console once, within TOKEN_SECONDS."""
    _check_access(actor, server)
    token = secrets.token_urlsafe(32)
    session = ConsoleSession.objects.create(
        server=server,
        user=actor,
        token_hash=digest(token),
        expires_at=timezone.now() + timedelta(seconds=TOKEN_SECONDS),
    )
    audit.record(actor=actor, action="console.issue", target=server, session=session.pk)
    return IssuedConsole(session=session, token=token)


def issued_session(*, token: str, server_id: int) -> ConsoleSession | None:
    """The unspent, unexpired session of this token for this server (the token not spent)."""
    return (
        ConsoleSession.objects.select_related("server", "user")
        .filter(
            token_hash=digest(token),
            server_id=server_id,
            state=ConsoleSession.State.ISSUED,
            expires_at__gt=timezone.now(),
        )
        .first()
    )


def _holder(server: Server) -> ConsoleSession | None:
    """The session holding the server's console, if its process is alive; sessions whose
    process died (open, or ending after a takeover) are closed."""
    alive_since = timezone.now() - timedelta(seconds=STALE_SECONDS)
    holding = ConsoleSession.objects.select_related("user").filter(
        server=server, state__in=[ConsoleSession.State.OPEN, ConsoleSession.State.ENDING]
    )
    holder = None
    for session in holding:
        if session.heartbeat_at < alive_since:
            _close(session, session.close_reason or "Lost: the process that held it stopped.")
        elif session.state == ConsoleSession.State.OPEN:
            holder = session
    return holder


def open_console(
    *, token: str, server_id: int, viewer: User | None, takeover: bool = False
) -> ConsoleSession:
    """Spend the token and take the server's console. `viewer` is the user signed in on the
    socket, if any: a token issued to someone else is refused. Staff may take the console
    over (`takeover`): the holder's session ends and its process lets the BMC go."""
    with transaction.atomic():
        session = (
            ConsoleSession.objects.select_for_update(of=("self",))
            .select_related("user", "server__bmc")
            .filter(token_hash=digest(token or ""))
            .first()
        )
        now = timezone.now()
        if session is None or session.state != ConsoleSession.State.ISSUED:
            raise ConsoleRefused(TOKEN_REFUSED, "This console link was used already or is wrong.")
        if session.expires_at <= now:
            raise ConsoleRefused(TOKEN_REFUSED, "This console link has expired.")
        if session.server_id != server_id:
            raise ConsoleRefused(NOT_YOURS, "This console link is for another server.")
        if viewer is not None and viewer.is_authenticated and viewer.pk != session.user_id:
            raise ConsoleRefused(NOT_YOURS, "This console link was issued to another account.")
        user, server = session.user, Server.objects.select_for_update().get(pk=server_id)
        try:
            _check_access(user, server)
        except (NotAllowed, Conflict) as exc:
            raise ConsoleRefused(NOT_YOURS, exc.message) from None
        holder = _holder(server)
        if holder is not None:
            if not (takeover and user.is_admin):
                raise ConsoleRefused(BUSY, _busy_message(holder, user))
            holder.state = ConsoleSession.State.ENDING
            holder.close_reason = f"Taken over by hosting staff ({user.email})."
            holder.save(update_fields=["state", "close_reason"])
        session.state = ConsoleSession.State.OPEN
        session.opened_at = session.heartbeat_at = now
        session.source_ip = audit.current_source_address()
        try:
            with transaction.atomic():
                session.save(update_fields=["state", "opened_at", "heartbeat_at", "source_ip"])
        except IntegrityError:  # another process opened it a moment ago
            raise ConsoleRefused(BUSY, "Someone else just opened this console.") from None
        audit.record(
            actor=user,
            action="console.open",
            target=server,
            session=session.pk,
            took_over=holder.pk if holder else None,
        )
    return session


def _busy_message(holder: ConsoleSession, user: User) -> str:
    who = holder.user.email if user.is_admin else "another session"
    message = f"The console is in use by {who} (a BMC allows one session at a time)."
    return message + (" You may take it over." if user.is_admin else " Try again later.")


def handed_over(session: ConsoleSession) -> bool:
    """True once no session taken over from this server's console still holds the BMC."""
    return not ConsoleSession.objects.filter(
        server_id=session.server_id,
        state=ConsoleSession.State.ENDING,
        heartbeat_at__gte=timezone.now() - timedelta(seconds=STALE_SECONDS),
    ).exists()


def why_end(session: ConsoleSession) -> str | None:
    """Why an open session must end now (None: it goes on); proves its process alive."""
    now = timezone.now()
    ConsoleSession.objects.filter(pk=session.pk).update(heartbeat_at=now)
    current = ConsoleSession.objects.select_related("server", "user").filter(pk=session.pk).first()
    if current is None:
        return "The server was removed."
    if current.state != ConsoleSession.State.OPEN:
        return current.close_reason or "The console was closed."
    user, server = current.user, current.server
    if not user.is_active:
        return "The account was deactivated."
    if not user.is_admin and server.owner_id != user.pk:
        return "The server changed hands."
    if server.suspended and not user.is_admin:
        return f"{server.name} was suspended."
    return None


def close_console(*, session: ConsoleSession, reason: str) -> None:
    """The session's process has let the BMC go: record why it ended."""
    with transaction.atomic():
        current = ConsoleSession.objects.select_for_update().filter(pk=session.pk).first()
        if current is not None and current.state != ConsoleSession.State.CLOSED:
            _close(current, current.close_reason or reason)


def _close(session: ConsoleSession, reason: str) -> None:
    session.state, session.close_reason = ConsoleSession.State.CLOSED, reason[:300]
    session.closed_at = timezone.now()
    session.save(update_fields=["state", "close_reason", "closed_at"])
    audit.record(
        actor=session.user,
        action="console.close",
        target=session.server,
        session=session.pk,
        reason=session.close_reason,
    )
