"""The machine's side of an install: boot scripts, installer configs, installer events.

These answer a machine with no login, so a ticket guards them: a random secret per
boot script (only its SHA-256 is stored), bound to one operation and one MAC, dead
when the operation ends or at its deadline. A machine with nothing to install, or one
that is not ours, always gets the script that boots its local disk, never an error.
"""

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from inventory.addresses import normalise_mac
from inventory.models import Server
from provisioning import engine, install, installers
from provisioning.models import BootTicket, Operation, OperationEvent, OsTemplate

Ticket = BootTicket.State
EVENTS = ("progress", "log", "facts", "done", "failed")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _local(reason: str) -> str:
    return render_to_string("provisioning/boot/local.ipxe", {"reason": reason})


def _urls(base_url: str, secret: str) -> dict:
    return {
        "config_url": f"{base_url}/boot/config/{secret}",
        "events_url": f"{base_url}/boot/events/{secret}",
        "panel_url": base_url,
    }


def _context(ticket: BootTicket, template: OsTemplate, base_url: str, secret: str) -> dict:
    return installers.install_context(
        server=ticket.server,
        template=template,
        params=ticket.operation.params,
        urls=_urls(base_url, secret),
    )


def _end_ticket(ticket: BootTicket, state: str, message: str) -> bool:
    """Done or failed: the waiting operation is queued to act on it. False if it had ended."""
    ended = BootTicket.objects.filter(pk=ticket.pk, state__in=BootTicket.LIVE_STATES).update(
        state=state, finished_at=timezone.now(), message=message
    )
    if ended:
        engine.enqueue(ticket.operation_id)
    return bool(ended)


def _fail_ticket(ticket: BootTicket, message: str) -> None:
    if _end_ticket(ticket, Ticket.FAILED, message):
        engine.note(ticket.operation, message, OperationEvent.Level.ERROR)


def boot_script(mac_text: str, base_url: str) -> str:
    """The iPXE script for the machine with this MAC: its installer, or its local disk."""
    try:
        mac = normalise_mac(mac_text or "")
    except ValidationError:
        return _local("no valid MAC address was given")
    ticket = (
        BootTicket.objects.select_related("operation", "server")
        .filter(mac=mac, state__in=BootTicket.LIVE_STATES, expires_at__gt=timezone.now())
        .first()
    )
    if ticket is None:
        return _local("nothing is to be installed on this machine")
    op = ticket.operation
    if ticket.state == Ticket.CONFIG_FETCHED:
        engine.note(
            op,
            "The machine booted from the network again after fetching its config; "
            "it was sent to its local disk.",
            OperationEvent.Level.WARNING,
        )
        return _local("its installer has already started")
    secret = secrets.token_urlsafe(32)
    if not BootTicket.objects.filter(pk=ticket.pk, state__in=(Ticket.ISSUED, Ticket.BOOTED)).update(
        secret_hash=digest(secret), state=Ticket.BOOTED, booted_at=timezone.now()
    ):
        return _local("its installation has just ended")
    template = OsTemplate.objects.get(pk=op.params["os_template"])
    try:
        context = _context(ticket, template, base_url, secret)
        if template.family == OsTemplate.Family.CUSTOM_IPXE:
            script = installers.render(template.config, context, "iPXE script")
        else:
            script = render_to_string(
                "provisioning/boot/install.ipxe",
                {
                    "doing": op.get_kind_display(),
                    "os_name": template.name,
                    "server": ticket.server.name,
                    "kernel_url": template.kernel_url,
                    "initrd_url": template.initrd_url,
                    "boot_args": installers.render(template.boot_args, context, "boot arguments"),
                },
            )
    except installers.RenderError as exc:
        _fail_ticket(ticket, str(exc))
        return _local("its OS template could not be rendered")
    engine.note(op, "The machine booted from the network and fetched its boot script.")
    engine.enqueue(op.pk)
    return script


def _ticket_for(secret: str, states) -> BootTicket | None:
    if not secret or len(secret) > 100:
        return None
    return (
        BootTicket.objects.select_related("operation", "server__profile")
        .filter(secret_hash=digest(secret), state__in=states, expires_at__gt=timezone.now())
        .first()
    )


def meta_data(secret: str) -> str | None:
    """cloud-init's meta-data beside the user-data (nocloud-net fetches both)."""
    ticket = _ticket_for(secret, (Ticket.BOOTED, Ticket.CONFIG_FETCHED))
    if ticket is None:
        return None
    return f"instance-id: metalpanel-{ticket.operation_id}\n"


def installer_config(secret: str, base_url: str) -> str | None:
    """The rendered config, once: fetching it moves the ticket on, so a second fetch is a 404."""
    ticket = _ticket_for(secret, (Ticket.BOOTED,))
    if ticket is None:
        return None
    template = OsTemplate.objects.get(pk=ticket.operation.params["os_template"])
    try:
        config = installers.render(
            template.config, _context(ticket, template, base_url, secret), "installer config"
        )
    except installers.RenderError as exc:
        _fail_ticket(ticket, str(exc))
        return None
    if not BootTicket.objects.filter(pk=ticket.pk, state=Ticket.BOOTED).update(
        state=Ticket.CONFIG_FETCHED, config_fetched_at=timezone.now()
    ):
        return None
    engine.note(ticket.operation, "The installer fetched its config.")
    return config


@dataclass(frozen=True)
class EventAnswer:
    status: int
    body: dict


def _installing_progress(percent: int) -> int:
    low, high = install.INSTALLING_BAND
    return low + (high - low) * percent // 100


@transaction.atomic
def record_event(secret: str, event: dict) -> EventAnswer:
    """One report from the installer: validated, idempotent for done/failed, bounded in number."""
    ticket = _ticket_for(secret, (Ticket.BOOTED, Ticket.CONFIG_FETCHED, Ticket.DONE, Ticket.FAILED))
    if ticket is None:
        return EventAnswer(404, {"detail": "Unknown, expired or revoked ticket."})
    kind = event["event"]
    if ticket.state in (Ticket.DONE, Ticket.FAILED):
        if kind in ("done", "failed"):
            return EventAnswer(200, {"state": ticket.state})  # a retried final report
        ended = f"This installation has already ended ({ticket.state})."
        return EventAnswer(409, {"detail": ended})
    if ticket.events_received >= settings.PANEL_BOOT_EVENTS_PER_TICKET:
        return EventAnswer(429, {"detail": "Too many events for this ticket."})
    op = ticket.operation
    message = event.get("message", "")
    now = timezone.now()
    BootTicket.objects.filter(pk=ticket.pk).update(
        events_received=F("events_received") + 1, last_event_at=now
    )
    if kind == "progress" and event.get("progress") is not None:
        Operation.objects.filter(pk=op.pk, state=Operation.State.RUNNING).update(
            progress=_installing_progress(event["progress"])
        )
    if kind == "facts":
        Server.objects.filter(pk=ticket.server_id).update(facts=event["facts"])
        message = message or "Hardware facts received."
    state = {"done": Ticket.DONE, "failed": Ticket.FAILED}.get(kind, ticket.state)
    if state != ticket.state:
        _end_ticket(ticket, state, message)
    if message:
        level = OperationEvent.Level.ERROR if kind == "failed" else OperationEvent.Level.INFO
        engine.note(op, f"Installer: {message}", level)
    return EventAnswer(202, {"state": state})
