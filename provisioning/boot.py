"""The machine's side of an install: boot scripts, installer configs, installer events.

These answer a machine with no login, so two things guard them. The boot network: only
addresses of IPAM's boot networks and of PANEL_BOOT_ALLOWED_CIDRS are answered at all. A
ticket: a random secret per boot script (only its SHA-256 is stored), bound to one
operation, one MAC and one source address, dead when the operation ends or at its
deadline. On a boot network, a machine with nothing to install, or one that is not ours,
gets the script that boots its local disk; anything from elsewhere, or with another
address than its ticket's, is a 404. Refusals are audited as `boot.refused`.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Model, Q
from django.template.loader import render_to_string
from django.utils import timezone

from inventory.addresses import normalise_mac
from inventory.models import IpAddress, Network, Server
from panel import audit
from panel.models import AuditEvent
from panel.sources import as_ip, in_networks
from provisioning import engine, events, imaging, installers, workflows
from provisioning.models import BootTicket, Operation, OperationEvent, OsTemplate
from provisioning.workflows import pxe

logger = logging.getLogger(__name__)

Ticket = BootTicket.State
EVENTS = ("progress", "log", "facts", "done", "failed")
# The server's hardware_info comes from the panel's own utility image, not from an OS installer.
FACT_REPORTING_KINDS = (Operation.Kind.DIAGNOSTICS, Operation.Kind.WIPE)
FINAL_EVENTS = ("done", "failed")
# A flood of refused requests costs the audit log at most this many rows a minute, and one
# per address and endpoint; every refusal is still logged.
REFUSALS_AUDITED_PER_MINUTE = 60
OUTSIDE, ELSEWHERE = "outside the boot networks", "bound to another address"
NOTHING = "nothing is to be installed on this machine"
# A rescue boots the utility image with this kernel argument; the panel's own script (not the
# template's config) sets root's keys or one-time password hash and starts SSH.
RESCUE_ARGUMENT = "metalpanel.mode=rescue"
RESCUE_SCRIPT = "provisioning/boot/rescue.sh"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _local(reason: str) -> str:
    return render_to_string("provisioning/boot/local.ipxe", {"reason": reason})


def _urls(base_url: str, secret: str) -> dict:
    return {
        "config_url": f"{base_url}/boot/config/{secret}",
        "events_url": f"{base_url}/boot/events/{secret}",
        "disks_url": f"{base_url}/boot/disks/{secret}",
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


def _same_address(one: str | None, other: str | None) -> bool:
    return as_ip(one) is not None and as_ip(one) == as_ip(other)


def refuse(
    *, source: str | None, endpoint: str, reason: str, target: Model | None = None, **detail
):
    """Audit a refused boot request, bounded so a flood cannot fill the database."""
    logger.warning("Boot endpoint %s refused %s: %s", endpoint, source, reason)
    if as_ip(source) is None:
        return  # nothing trustworthy to record (a proxy passed on garbage)
    recent = AuditEvent.objects.filter(
        action="boot.refused", created_at__gte=timezone.now() - timedelta(minutes=1)
    )
    if recent.filter(source_ip=source, detail__endpoint=endpoint).exists():
        return
    if recent.count() >= REFUSALS_AUDITED_PER_MINUTE:
        return
    audit.record(
        actor=None, action="boot.refused", target=target, endpoint=endpoint, reason=reason, **detail
    )


def admits(source: str | None, endpoint: str) -> bool:
    """Whether `source` is on a boot network (IPAM's, PANEL_BOOT_ALLOWED_CIDRS); audited if not."""
    if as_ip(source) is not None:
        cidrs = [
            *settings.PANEL_BOOT_ALLOWED_CIDRS,
            *Network.objects.filter(boot=True).values_list("cidr", flat=True),
        ]
        if in_networks(source, cidrs):
            return True
    refuse(source=source, endpoint=endpoint, reason=OUTSIDE)
    return False


def _binding(ticket: BootTicket, source: str | None) -> str:
    """The address the ticket answers: the one it is bound to, else the server's address on a
    boot network, else (first fetch, nothing in IPAM) the asking one."""
    if ticket.source_address:
        return ticket.source_address
    reserved = list(
        IpAddress.objects.on_boot_networks()
        .filter(server=ticket.server_id)
        .values_list("address", flat=True)
    )
    if not reserved or any(_same_address(address, source) for address in reserved):
        return str(as_ip(source))
    return ", ".join(reserved)


def boot_script(mac_text: str, base_url: str, source: str | None) -> str:
    """The iPXE script for the machine with this MAC at `source`: its installer, or its
    local disk. Asking from anywhere but the install's address changes nothing."""
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
        return _local(NOTHING)
    op = ticket.operation
    if ticket.state == Ticket.ISSUED and op.step not in pxe.NETBOOT_STEPS:
        return _local(NOTHING)  # the panel has not yet sent it to the network: bind nobody
    bound_to = _binding(ticket, source)
    if not _same_address(bound_to, source):
        refuse(
            source=source, endpoint="ipxe", reason=ELSEWHERE, target=op, mac=mac, bound_to=bound_to
        )
        return _local(NOTHING)  # the same words as for an idle MAC: the asker learns nothing
    if ticket.state == Ticket.CONFIG_FETCHED:
        engine.note(
            op,
            "The machine booted from the network again after fetching its config; "
            "it was sent to its local disk.",
            OperationEvent.Level.WARNING,
        )
        return _local("its installer has already started")
    secret = secrets.token_urlsafe(32)
    unbound_or_ours = Q(source_address__isnull=True) | Q(source_address=bound_to)
    if (
        not BootTicket.objects.filter(unbound_or_ours, pk=ticket.pk)
        .filter(state__in=(Ticket.ISSUED, Ticket.BOOTED))
        .update(
            secret_hash=digest(secret),
            state=Ticket.BOOTED,
            booted_at=timezone.now(),
            source_address=bound_to,
        )
    ):
        return _local(NOTHING)  # another fetch won the ticket, or it just ended
    template = OsTemplate.objects.get(pk=op.params["os_template"])
    rescue = op.params.get("rescue", False)
    try:
        context = _context(ticket, template, base_url, secret)
        if template.family == OsTemplate.Family.CUSTOM_IPXE and not rescue:
            script = installers.render(template.config, context, "iPXE script")
        else:
            boot_args = installers.render(template.boot_args, context, "boot arguments")
            script = render_to_string(
                "provisioning/boot/install.ipxe",
                {
                    "doing": op.get_kind_display(),
                    "os_name": template.name,
                    "server": ticket.server.name,
                    "kernel_url": template.kernel_url,
                    "initrd_url": template.initrd_url,
                    "boot_args": f"{boot_args} {RESCUE_ARGUMENT}" if rescue else boot_args,
                },
            )
    except installers.RenderError as exc:
        _fail_ticket(ticket, str(exc))
        return _local("its OS template could not be rendered")
    engine.note(op, "The machine booted from the network and fetched its boot script.")
    engine.enqueue(op.pk)
    return script


def bound_ticket(secret: str, source: str | None, endpoint: str) -> BootTicket | None:
    """The unexpired ticket with this secret, if `source` is the address it is bound to
    (a secret sniffed off the boot network is refused and audited elsewhere)."""
    if not secret or len(secret) > 100:
        return None
    ticket = (
        BootTicket.objects.select_related("operation", "server__profile")
        .filter(secret_hash=digest(secret), expires_at__gt=timezone.now())
        .first()
    )
    if ticket is None:
        return None
    if not _same_address(ticket.source_address, source):
        bound_to = ticket.source_address
        refuse(
            source=source,
            endpoint=endpoint,
            reason=ELSEWHERE,
            target=ticket.operation,
            bound_to=bound_to,
        )
        return None
    return ticket


def meta_data(ticket: BootTicket) -> str | None:
    """cloud-init's meta-data beside the user-data (nocloud-net fetches both)."""
    if ticket.state not in (Ticket.BOOTED, Ticket.CONFIG_FETCHED):
        return None
    return f"instance-id: metalpanel-{ticket.operation_id}\n"


def installer_config(ticket: BootTicket, secret: str, base_url: str) -> str | None:
    """The rendered config, once: fetching it moves the ticket on, so a second fetch is a 404."""
    if ticket.state != Ticket.BOOTED:
        return None
    template = OsTemplate.objects.get(pk=ticket.operation.params["os_template"])
    machine_script = workflows.for_kind(ticket.operation.kind).machine_script
    context = _context(ticket, template, base_url, secret)
    try:
        if ticket.operation.params.get("rescue"):
            config = render_to_string(RESCUE_SCRIPT, context)
        elif machine_script is None:
            config = installers.render(template.config, context, "installer config")
        else:
            config = machine_script(ticket.operation, context)
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
    low, high = pxe.INSTALLING_BAND
    return low + (high - low) * percent // 100


@transaction.atomic
def record_event(ticket: BootTicket, event: dict) -> EventAnswer:
    """One report from the installer: validated, idempotent for done/failed, bounded in number
    (the end of the install is always taken, once, however many reports came before it)."""
    if ticket.state == Ticket.REVOKED:
        return EventAnswer(404, {"detail": "Unknown, expired or revoked ticket."})
    kind = event["event"]
    if ticket.state in (Ticket.DONE, Ticket.FAILED):
        if kind in FINAL_EVENTS:
            return EventAnswer(200, {"state": ticket.state})  # a retried final report
        ended = f"This installation has already ended ({ticket.state})."
        return EventAnswer(409, {"detail": ended})
    if kind not in FINAL_EVENTS and ticket.events_received >= settings.PANEL_BOOT_EVENTS_PER_TICKET:
        return EventAnswer(429, {"detail": "Too many events for this ticket."})
    op = ticket.operation
    if kind == "facts" and op.kind not in FACT_REPORTING_KINDS:
        return EventAnswer(400, {"facts": ["Hardware facts come from the utility image only."]})
    message = event.get("message", "")
    now = timezone.now()
    BootTicket.objects.filter(pk=ticket.pk).update(
        events_received=F("events_received") + 1, last_event_at=now
    )
    if kind == "progress" and event.get("progress") is not None:
        Operation.objects.filter(pk=op.pk, state=Operation.State.RUNNING).update(
            progress=_installing_progress(event["progress"]), updated_at=now
        )
        events.install_progress(op, event["progress"], message)
    if kind == "facts":
        facts = event["facts"]
        if isinstance(facts.get("disks"), list):  # only block devices reach paths, scripts
            facts = {**facts, "disks": imaging.reported_disks(facts)}
        Server.objects.filter(pk=ticket.server_id).update(facts=facts, updated_at=now)
        message = message or "Hardware facts received."
    state = {"done": Ticket.DONE, "failed": Ticket.FAILED}.get(kind, ticket.state)
    if state != ticket.state:
        _end_ticket(ticket, state, message)
    if message:
        level = OperationEvent.Level.ERROR if kind == "failed" else OperationEvent.Level.INFO
        engine.note(op, f"Installer: {message}", level)
    return EventAnswer(202, {"state": state})
