"""DCImanager API sessions: opened by a password login, used as a bearer secret, ended by
expiry, logout or staff.

A session's expiry slides: each use moves it PANEL_DCI_SESSION_SECONDS ahead, but never past
PANEL_DCI_SESSION_MAX_SECONDS after the login, so a stolen token dies at the latest then.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dci.models import DciSession
from panel import audit
from panel.models import User

# Ended sessions stay visible in the admin this long, then a later login deletes them.
KEEP_ENDED = timedelta(days=1)
# A session's use is written at most this often, so a busy billing module does not write on
# every request (its expiry then slides by this step).
USE_WRITE_STEP = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _expiry(session: DciSession, now: datetime) -> datetime:
    idle = now + timedelta(seconds=settings.PANEL_DCI_SESSION_SECONDS)
    return min(idle, session.created_at + timedelta(seconds=settings.PANEL_DCI_SESSION_MAX_SECONDS))


def open_session(*, actor: User, source_ip: str | None) -> tuple[DciSession, str]:
    """A new session for `actor`, who has just proved their password; returns it with its
    token, which is never available again."""
    now = timezone.now()
    session = DciSession(
        user=actor, prefix=secrets.token_hex(4), created_at=now, source_ip=source_ip
    )
    secret = secrets.token_urlsafe(32)
    session.secret_hash = _digest(secret)
    session.expires_at = _expiry(session, now)
    with transaction.atomic():
        session.save()
        audit.record(
            actor=actor,
            action="dci.session.open",
            target=session,
            expires_at=session.expires_at.isoformat(),
        )
        delete_ended_sessions(now=now)
    return session, f"{session.prefix}.{secret}"


def find_live_session(token: str) -> DciSession | None:
    """The unexpired, unrevoked session a token belongs to, or None; the secret is compared
    in constant time."""
    prefix, _, secret = (token or "").partition(".")
    if not prefix or not secret:
        return None
    session = DciSession.objects.select_related("user").filter(prefix=prefix).first()
    if session is None or not secrets.compare_digest(session.secret_hash, _digest(secret)):
        return None
    return session if session.is_live else None


def mark_session_used(session: DciSession, address: str | None) -> None:
    """Record the use and slide the expiry, at most once per USE_WRITE_STEP."""
    now = timezone.now()
    if session.last_used_at and now - session.last_used_at < USE_WRITE_STEP:
        return
    session.last_used_at, session.last_used_ip = now, address
    session.expires_at = _expiry(session, now)
    DciSession.objects.filter(pk=session.pk, revoked_at=None).update(
        last_used_at=now, last_used_ip=address, expires_at=session.expires_at
    )


def revoke_session(*, actor: User, session: DciSession) -> DciSession:
    """End a session now (its user logging out, or staff); revoking it again changes nothing."""
    with transaction.atomic():
        session = DciSession.objects.select_for_update().get(pk=session.pk)
        if session.revoked_at is None:
            session.revoked_at = timezone.now()
            session.save(update_fields=["revoked_at"])
            audit.record(actor=actor, action="dci.session.revoke", target=session)
    return session


def revoke_user_sessions(*, actor: User, user: User) -> None:
    """End every live session of `user` (e.g. their second factor changed)."""
    live = DciSession.objects.filter(user=user, revoked_at=None, expires_at__gt=timezone.now())
    for session in live:
        revoke_session(actor=actor, session=session)


def delete_ended_sessions(*, now: datetime | None = None) -> int:
    """Forget sessions that expired or were revoked more than KEEP_ENDED ago (the audit log
    keeps their story); run on every login, so no schedule is needed."""
    cutoff = (now or timezone.now()) - KEEP_ENDED
    deleted, _ = DciSession.objects.filter(
        Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)
    ).delete()
    return deleted
