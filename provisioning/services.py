"""Requests that start or stop operations. Each is checked, recorded and audited here."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import Server, SwitchPort
from network import portsync
from panel import audit
from panel.broker import queue_task
from panel.exceptions import Conflict, NotAllowed
from panel.models import SshKey, User
from panel.sshkeys import ParsedKey, parse_public_keys
from provisioning import engine, events, imaging, installers, powersync, workflows
from provisioning.bmc import BOOT_DEVICES, POWER_ACTIONS
from provisioning.models import BootTicket, DiskImage, Operation, OsTemplate, RescueSession
from provisioning.workflows.power import KIND_FOR_ACTION

SWEEP_CHUNK_TASK = "provisioning.tasks.sync_power_chunk"


def _lock_to_operate(actor: User, server: Server) -> Server:
    """The server's row, locked for the rest of the transaction and checked as it is now.

    Owner changes and removal (inventory.services) take the same lock and refuse a server
    with an active operation; reading the owner again under it means a release that
    committed a moment ago is seen here, and one that waits for us sees our operation.
    """
    server = Server.objects.select_for_update(of=("self",)).select_related("bmc").get(pk=server.pk)
    if not (actor.is_admin or server.owner_id == actor.pk):
        raise NotAllowed("Only the server's owner or hosting staff may do this.")
    if server.suspended and not actor.is_admin:
        raise Conflict(suspended_message(server))
    if not hasattr(server, "bmc"):
        raise Conflict(f"{server.name} has no BMC enrolled.")
    return server


def _refuse_in_rescue(actor: User, server: Server, force: bool) -> None:
    """A server in the rescue system takes no other operation until it leaves it; staff may
    force one, which ends the rescue (audited)."""
    if force and not actor.is_admin:
        raise NotAllowed("Only hosting staff may force an operation on a server in rescue.")
    session = RescueSession.objects.current().filter(server=server).first()
    if session is None:
        return
    if not force:
        raise Conflict(in_rescue_message(server), rescue=session.operation_id)
    session.ended_at, session.end_reason = timezone.now(), "Ended by hosting staff (forced)."
    session.save(update_fields=["ended_at", "end_reason"])
    audit.record(actor=actor, action="rescue.forced", target=server, operation=session.operation_id)


def in_rescue_message(server: Server) -> str:
    return (
        f"{server.name} is in the rescue system: power, boot device and reinstall are "
        "unavailable until it leaves it (rescue exit; it then boots its disk)."
    )


def suspended_message(server: Server) -> str:
    """What a customer is told when a suspended server refuses their request."""
    reason = f" ({server.suspend_reason})" if server.suspend_reason else ""
    return (
        f"{server.name} is suspended{reason}: power, reinstall and console are unavailable "
        "until hosting staff resume it."
    )


def _start(*, actor: User | None, server: Server, kind: str, params: dict) -> Operation:
    """Create the operation (at most one active per server, enforced by the database)."""
    op = Operation(server=server, kind=kind, params=params, requested_by=actor)
    try:
        with transaction.atomic():
            op.save(force_insert=True)
    except IntegrityError:
        active = Operation.objects.active().filter(server=server).first()
        if active is None:  # it ended between the insert and this read
            raise Conflict(f"{server.name} was busy; retry.") from None
        raise Conflict(
            f"{server.name} already has an active operation #{active.pk} "
            f"({active.get_kind_display().lower()}, {active.state}).",
            operation=active.pk,
        ) from None
    audit.record(
        actor=actor,
        action=f"operation.request.{kind}",
        target=server,
        operation=op.pk,
        params=op.params_after_end(),  # never the password's hash
    )
    engine.enqueue(op.pk)
    return op


@transaction.atomic
def request_power(
    *, actor: User, server: Server, action: str, timeout: int | None = None, force: bool = False
) -> Operation:
    """Queue a power action; it succeeds only when the BMC reports the resulting state.
    `force` (staff): even on a server in the rescue system, which ends the rescue."""
    if action not in POWER_ACTIONS:
        raise ValueError(action)
    server = _lock_to_operate(actor, server)
    _refuse_in_rescue(actor, server, force)
    params = {"action": action}
    if timeout is not None and action == "soft_off":
        params["timeout"] = timeout
    return _start(actor=actor, server=server, kind=KIND_FOR_ACTION[action], params=params)


@transaction.atomic
def request_boot_device(
    *, actor: User, server: Server, device: str, persistent: bool = False, force: bool = False
) -> Operation:
    if device not in BOOT_DEVICES:
        raise ValueError(device)
    server = _lock_to_operate(actor, server)
    _refuse_in_rescue(actor, server, force)
    return _start(
        actor=actor,
        server=server,
        kind=Operation.Kind.SET_BOOTDEV,
        params={"device": device, "persistent": persistent},
    )


@transaction.atomic
def _start_pxe(
    *,
    actor: User,
    server: Server,
    kind: str,
    template: OsTemplate,
    params: dict,
    force: bool = False,
) -> Operation:
    """An operation on the PXE path, with the boot ticket its machine will need."""
    server = _lock_to_operate(actor, server)
    _refuse_in_rescue(actor, server, force)
    if not server.mac:
        raise Conflict(f"{server.name} has no PXE MAC address; staff must record it first.")
    params = {"os_template": template.pk, "os_name": template.name, **params}
    op = _start(actor=actor, server=server, kind=kind, params=params)
    window = settings.PANEL_MANUAL_REBOOT_SECONDS if params.get("reboot") == "manual" else 0
    window += settings.PANEL_PXE_BOOT_SECONDS + settings.PANEL_INSTALL_SECONDS
    BootTicket.objects.create(
        operation=op,
        server=server,
        mac=server.mac,
        expires_at=timezone.now() + timedelta(seconds=window),
    )
    return op


def start_install(
    *,
    actor: User,
    server: Server,
    template: OsTemplate,
    raid: str = "no_raid",
    password: str = "",
    ssh_keys: Sequence[SshKey] = (),
    ssh_key_texts: Sequence[str] = (),
    reboot: str = "auto",
    force: bool = False,
) -> Operation:
    """Reinstall the server: the password is hashed here and never stored in plain text.

    `ssh_keys` are saved keys (the actor's, or the server owner's); `ssh_key_texts` are
    OpenSSH public key lines given for this install only (a billing system's), installed
    the same way and never saved as anyone's keys.

    Not one transaction: hashing takes tens of milliseconds of CPU, and on SQLite (BEGIN
    IMMEDIATE) every other writer would wait for it. _start_pxe writes atomically.
    """
    errors = {}
    if not OsTemplate.objects.visible_to(actor).filter(pk=template.pk, is_utility=False).exists():
        errors["os_template"] = ["No such OS template."]
    try:
        installers.check_raid(raid, server.profile.disk_count)
    except ValidationError as exc:
        errors["raid"] = exc.messages
    if password:
        try:
            validate_password(password)
        except ValidationError as exc:
            errors["password"] = exc.messages
    if not password and not ssh_keys and not ssh_key_texts:
        errors["password"] = ["Give a root password, SSH keys, or both."]
    if any(key.user_id not in (actor.pk, server.owner_id) for key in ssh_keys):
        errors["ssh_keys"] = ["Use saved SSH keys of your own or of the server's owner."]
    given = []
    try:
        given = parse_public_keys(ssh_key_texts)
    except ValidationError as exc:
        errors["ssh_key_texts"] = exc.messages
    if reboot not in ("auto", "manual"):
        errors["reboot"] = ["Choose auto or manual."]
    if errors:
        raise ValidationError(errors)
    keys = _install_keys(ssh_keys, given)
    params = {
        "raid": raid,
        "ssh_keys": [line for _, line in keys],
        "ssh_key_names": [name for name, _ in keys],
        "reboot": reboot,
    }
    if password:
        params["password_hash"] = installers.hash_password(password)
        params["root_password"] = True  # kept after the end, unlike the hash: "the one you chose"
    return _start_pxe(
        actor=actor,
        server=server,
        kind=Operation.Kind.INSTALL,
        template=template,
        params=params,
        force=force,
    )


def _install_keys(saved: Sequence[SshKey], given: Sequence[ParsedKey]) -> list[tuple[str, str]]:
    """(name, public key line) of each key once (by fingerprint), saved keys first."""
    keys, seen = [], set()
    for fingerprint, name, line in [
        *((key.fingerprint, key.name, key.public_key) for key in saved),
        *((key.fingerprint, key.comment or key.key_type, key.canonical) for key in given),
    ]:
        if fingerprint not in seen:
            seen.add(fingerprint)
            keys.append((name, line))
    return keys


def delete_os_template(*, actor: User, template: OsTemplate) -> None:
    busy = Operation.objects.active().filter(params__os_template=template.pk).first()
    if busy is not None:
        raise Conflict(f"{template.name} is being installed by operation #{busy.pk}.")
    audit.record(actor=actor, action="os_template.delete", target=template, name=template.name)
    template.delete()


def _utility_template() -> OsTemplate:
    template = OsTemplate.objects.filter(is_utility=True).first()
    if template is None:
        raise Conflict("No utility image is configured; staff must add one (OS templates).")
    return template


def _start_utility(
    *, actor: User, server: Server, kind: str, force: bool = False, **params
) -> Operation:
    """An operation that boots the utility image (as shipped, the panel's agent image)."""
    return _start_pxe(
        actor=actor,
        server=server,
        kind=kind,
        template=_utility_template(),
        params={**params, "reboot": "auto"},
        force=force,
    )


def start_diagnostics(
    *, actor: User, server: Server, wipe: str = "none", force: bool = False
) -> Operation:
    """Boot the utility image: report hardware facts, and wipe the disks if asked to."""
    if wipe not in installers.WIPE_MODES:
        raise ValidationError({"wipe": ["Choose none, simple or full."]})
    return _start_utility(
        actor=actor, server=server, kind=Operation.Kind.DIAGNOSTICS, wipe=wipe, force=force
    )


def start_wipe(*, actor: User, server: Server, mode: str, force: bool = False) -> Operation:
    if mode not in ("simple", "full"):
        raise ValidationError({"mode": ["Choose simple or full."]})
    return _start_utility(
        actor=actor, server=server, kind=Operation.Kind.WIPE, wipe=mode, force=force
    )


RESCUE_PASSWORD_BYTES = 12  # 16 characters, 96 bits


@dataclass(frozen=True)
class RescueStarted:
    operation: Operation
    password: str  # the one-time root password, shown once; "" when none was asked for


def start_rescue(
    *, actor: User, server: Server, ssh_keys: Sequence[str] = (), password: bool = False
) -> RescueStarted:
    """Boot the utility image as a rescue system that root logs in to with `ssh_keys`
    (OpenSSH public key lines) and/or a one-time password generated here: only its hash
    is stored (until the rescue system is up), the password itself is returned once.
    Hashed outside the write transaction, as an install's password is."""
    errors = {}
    given = []
    try:
        given = parse_public_keys(ssh_keys)
    except ValidationError as exc:
        errors["ssh_keys"] = exc.messages
    if not ssh_keys and not password:
        errors["ssh_keys"] = ["Give SSH keys, ask for a one-time password, or both."]
    if errors:
        raise ValidationError(errors)
    keys = _install_keys((), given)
    params = {
        "rescue": True,
        "ssh_keys": [line for _, line in keys],
        "ssh_key_names": [name for name, _ in keys],
        "reboot": "auto",
        "wipe": "none",
    }
    clear = secrets.token_urlsafe(RESCUE_PASSWORD_BYTES) if password else ""
    if clear:
        params["password_hash"] = installers.hash_password(clear)
    with transaction.atomic():
        op = _start_pxe(
            actor=actor,
            server=server,
            kind=Operation.Kind.RESCUE,
            template=_utility_template(),
            params=params,
        )
        RescueSession.objects.create(
            server=server,
            operation=op,
            ssh_keys=[
                [key.comment or key.key_type, key.fingerprint]
                for key in {key.fingerprint: key for key in given}.values()
            ],
            password=bool(clear),
        )
    return RescueStarted(operation=op, password=clear)


@transaction.atomic
def request_rescue_exit(*, actor: User, server: Server) -> Operation:
    """Leave the rescue system: the next boot from the disk, and a power cycle."""
    server = _lock_to_operate(actor, server)
    if not RescueSession.objects.current().filter(server=server).exists():
        booting = (
            RescueSession.objects.open()
            .filter(server=server, operation__state__in=Operation.ACTIVE_STATES)
            .first()
        )
        if booting is not None:
            raise Conflict(
                f"{server.name} is still booting the rescue system (operation "
                f"#{booting.operation_id}): cancel that operation, or wait until it is up."
            )
        raise Conflict(f"{server.name} is not in the rescue system.")
    who = "hosting staff" if actor.is_admin else "the owner"
    return _start(
        actor=actor,
        server=server,
        kind=Operation.Kind.RESCUE_EXIT,
        params={"reason": f"Left at the request of {who}."},
    )


def end_expired_rescues() -> list[Operation]:
    """The periodic check: each server in rescue past its time limit leaves it."""
    started = []
    expired = RescueSession.objects.current().filter(expires_at__lt=timezone.now())
    for server in Server.objects.filter(rescue_sessions__in=expired).distinct():
        try:
            op = _start(
                actor=None,
                server=server,
                kind=Operation.Kind.RESCUE_EXIT,
                params={"reason": "The rescue system's time limit ran out."},
            )
        except Conflict:
            continue  # an operation is running on it; the next check looks again
        started.append(op)
    return started


def _reported_disks(server: Server) -> list[dict]:
    """The disks the agent image reported (name and size), in its order; none before."""
    return imaging.reported_disks(server.facts)


def start_capture(
    *, actor: User, server: Server, name: str, disks: Sequence[str] = ()
) -> tuple[Operation, DiskImage]:
    """Capture the server's `disks` (all it reported, if none are named) into a new image
    of its owner's (the actor's, for a server nobody owns), within the owner's quota."""
    reported = [disk["name"] for disk in _reported_disks(server)]
    disks = list(disks) or reported
    owner = server.owner or actor
    errors = {}
    if not reported:
        errors["disks"] = [f"Run diagnostics first: the panel knows no disks of {server.name}."]
    elif unknown := sorted(set(disks) - set(reported)):
        errors["disks"] = [f"{server.name} has no disk {', '.join(unknown)}."]
    elif len(set(disks)) != len(disks):
        errors["disks"] = ["Name each disk once."]
    if DiskImage.objects.filter(owner=owner, name=name).exists():
        errors["name"] = [f"There is already an image named {name}."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        images = DiskImage.objects.select_for_update().filter(owner=owner)
        if not owner.is_admin and len(images) >= settings.PANEL_IMAGE_QUOTA_COUNT:
            raise Conflict(
                f"{owner.email} keeps {settings.PANEL_IMAGE_QUOTA_COUNT} images already, the "
                "most allowed: delete one first."
            )
        if not owner.is_admin and imaging.stored_by(owner) >= settings.PANEL_IMAGE_QUOTA_BYTES:
            raise Conflict(f"{owner.email}'s images fill their quota: delete one first.")
        image = DiskImage.objects.create(
            owner=owner,
            name=name,
            source_server=server,
            source_configuration=server.profile.name,
            source_os=server.current_os,
            chunk_mib=settings.PANEL_IMAGE_PIECE_MIB,
            disks=[{"name": disk, "bytes": 0, "sha256": "", "pieces": []} for disk in disks],
        )
        op = _start_utility(
            actor=actor,
            server=server,
            kind=Operation.Kind.CAPTURE,
            image=image.pk,
            image_name=name,
            disks=disks,
        )
        image.capture = op
        image.save(update_fields=["capture"])
        audit.record(actor=actor, action="image.capture", target=image, server=server.name)
    return op, image


def _restore_targets(server: Server, image: DiskImage) -> list[dict]:
    """Each disk of the image with the disk of `server` it is written to (in order), or a
    ValidationError naming the first that does not fit."""
    reported = _reported_disks(server)
    targets = [(disk["name"], disk["size_bytes"]) for disk in reported] or [
        (disk["name"], server.profile.disk_size_gb * 10**9)
        for disk in image.disks[: server.profile.disk_count]
    ]
    if len(targets) < len(image.disks):
        raise ValidationError(
            {
                "image": [
                    f"{image.name} holds {len(image.disks)} disks; {server.name} has "
                    f"{len(targets)}."
                ]
            }
        )
    for disk, (target, size) in zip(image.disks, targets, strict=False):
        if disk["bytes"] > size:
            raise ValidationError(
                {
                    "image": [
                        f"Disk {disk['name']} of {image.name} holds {disk['bytes']:,} bytes; "
                        f"{target} of {server.name} has only {size:,}."
                    ]
                }
            )
    return [
        {"name": disk["name"], "target": target}
        for disk, (target, _size) in zip(image.disks, targets, strict=False)
    ]


def restorable_images(server: Server):
    """The images that may be written onto `server`: its owner's (staff's, if nobody owns
    it), so that no customer's disks reach another customer's server."""
    if server.owner_id:
        return DiskImage.objects.filter(owner=server.owner_id)
    return DiskImage.objects.filter(owner__role=User.Role.ADMIN)


def _restorable_onto(server: Server, image: DiskImage) -> bool:
    return restorable_images(server).filter(pk=image.pk).exists()


def start_restore(*, actor: User, server: Server, image: DiskImage) -> Operation:
    """Write a ready image of the server's owner (staff's, for a server nobody owns) onto
    the server's disks (refused if one is too small)."""
    if not DiskImage.objects.visible_to(actor).filter(pk=image.pk, state="ready").exists():
        raise ValidationError({"image": ["No such image ready to restore."]})
    if not _restorable_onto(server, image):
        raise ValidationError(
            {"image": [f"{image.name} is not an image of {server.name}'s owner."]}
        )
    disks = _restore_targets(server, image)
    with transaction.atomic():
        op = _start_utility(
            actor=actor,
            server=server,
            kind=Operation.Kind.RESTORE,
            image=image.pk,
            image_name=image.name,
            disks=disks,
        )
        audit.record(actor=actor, action="image.restore", target=image, server=server.name)
    return op


@transaction.atomic
def delete_image(*, actor: User, image: DiskImage) -> None:
    """Delete the image and its pieces; not while a capture or restore uses it."""
    image = DiskImage.objects.select_for_update().get(pk=image.pk)
    if not (actor.is_admin or image.owner_id == actor.pk):
        raise NotAllowed("Only the image's owner or hosting staff may delete it.")
    using = Operation.objects.active().filter(
        kind__in=(Operation.Kind.CAPTURE, Operation.Kind.RESTORE), params__image=image.pk
    )
    if active := using.first():
        raise Conflict(
            f"Operation #{active.pk} ({active.get_kind_display().lower()}) uses {image.name}; "
            "delete it once that ends or is cancelled.",
            operation=active.pk,
        )
    imaging.discard_pieces(image)
    audit.record(actor=actor, action="image.delete", target=image, owner=image.owner.email)
    image.delete()


def restore_power_state(*, server: Server, state: str) -> Operation | None:
    """Drift policy `enforce`: bring the server back to the last requested state."""
    try:
        return _start(
            actor=None, server=server, kind=KIND_FOR_ACTION[state], params={"action": state}
        )
    except Conflict:
        return None  # an operation is already running on it; the next sweep looks again


def _restore_drifted(report: powersync.SweepReport) -> None:
    for bmc in report.to_restore:
        restore_power_state(server=bmc.server, state=bmc.desired_power_state)


def sync_power_states() -> powersync.Round:
    """The periodic sweep: claim the due BMCs for a round and queue its chunks to the workers.
    Should the broker refuse one, its BMCs are read by a round after their claim expires."""
    round_ = powersync.claim_round()
    for number, bmc_ids in enumerate(round_.chunks()):
        queue_task(
            SWEEP_CHUNK_TASK,
            round_.began,
            bmc_ids,
            task_name=f"power-sync-{round_.began:%Y%m%dT%H%M%S.%f}-{number}",
        )
    if not round_.bmc_ids and not powersync.any_round_running(round_.began):
        # Nothing due and no round still reading: the sweep still ran, as /metrics should
        # tell (while a round reads, its last chunk tells).
        powersync.record_sweep(powersync.SweepReport())
    return round_


def sync_power_chunk(*, began: datetime, bmc_ids: list[int]) -> powersync.SweepReport:
    """One chunk of a round, then a restore for each server that drifted under `enforce`;
    the round's last chunk records the round's figures."""
    report = powersync.sweep_chunk(began, bmc_ids)
    _restore_drifted(report)
    finished = powersync.finished_round(began)
    if finished is not None:
        powersync.record_sweep(finished)
    return report


def sync_network_states() -> portsync.NetworkSweepReport:
    """The periodic read of switch ports and PDU outlets, then, under a switch's `enforce`
    policy, an operation that sets a drifted server's data ports back."""
    report = portsync.sweep()
    for kind, server_ids in (
        (Operation.Kind.SUSPEND, report.to_suspend),
        (Operation.Kind.RESUME, report.to_resume),
    ):
        for server in Server.objects.filter(pk__in=server_ids):
            try:
                _start(actor=None, server=server, kind=kind, params={"drift": True})
            except Conflict:
                continue  # an operation is already running on it; the next sweep looks again
    return report


def refresh_power_state(*, server: Server) -> None:
    """Read the server's power state now, as the sweep would (a drift under `enforce` is
    restored too); a BmcError is recorded on the BMC and raised."""
    _restore_drifted(powersync.read_now(server.bmc))


@transaction.atomic
def cancel_operation(*, actor: User, operation: Operation) -> Operation:
    """Cancel an operation no worker has started, or a running one while its workflow's
    cancel rule allows (an install whose machine has not yet fetched its config; its worker
    then restores the boot device). Power commands already sent cannot be taken back."""
    if not may_cancel(actor, operation):
        raise NotAllowed("Only hosting staff may cancel this operation.")
    operation.cancel_requested_by = actor
    cancelled = Operation.objects.filter(pk=operation.pk, state=Operation.State.QUEUED).update(
        state=Operation.State.CANCELLED,
        finished_at=timezone.now(),
        error=f"Cancelled by {operation.canceller} before it started.",
        cancel_requested_by=actor,
        params=operation.params_after_end(),
        updated_at=timezone.now(),
    )
    operation.refresh_from_db()
    if cancelled:
        BootTicket.objects.filter(operation=operation).revoke()
        workflows.for_kind(operation.kind).cancelled_before_start(operation)
        events.operation_ended(operation)
    elif operation.state == Operation.State.RUNNING:
        _cancel_running(operation, actor)
    else:
        raise Conflict(f"Operation #{operation.pk} has already ended ({operation.state}).")
    engine.note(operation, f"Cancel requested by {operation.canceller}.", "warning")
    audit.record(
        actor=actor, action="operation.cancel", target=operation.server, operation=operation.pk
    )
    return operation


def may_cancel(actor: User, operation: Operation) -> bool:
    """Staff; or the server's owner, except for staff's own kinds (a suspension, a PDU
    switch) and what the panel started itself (a drift restore)."""
    if actor.is_admin:
        return True
    return (
        operation.server.owner_id == actor.pk
        and operation.requested_by_id is not None
        and not workflows.for_kind(operation.kind).staff_only
    )


def is_cancellable(operation: Operation) -> bool:
    """Whether cancel_operation would accept it now (to offer the button; it decides)."""
    if operation.state == Operation.State.QUEUED:
        return True
    rule = workflows.for_kind(operation.kind).cancel
    return operation.state == Operation.State.RUNNING and rule is not None and rule.open(operation)


def _cancel_running(operation: Operation, actor: User) -> None:
    """Take the cancel by the workflow's rule; its worker then stops the operation."""
    workflow = workflows.for_kind(operation.kind)
    if workflow.cancel is None:
        raise Conflict(
            f"Operation #{operation.pk} ({operation.get_kind_display().lower()}) is already "
            f"running; a command sent to {workflow.device.name} cannot be taken back."
        )
    if not workflow.cancel.take(operation):
        raise Conflict(workflow.cancel.refusal(operation))
    now = timezone.now()
    Operation.objects.filter(pk=operation.pk).update(
        cancel_requested_at=now, cancel_requested_by=actor, updated_at=now
    )
    operation.refresh_from_db()
    engine.enqueue(operation.pk)


def _lock_for_staff(actor: User, server: Server, what: str) -> Server:
    if not actor.is_admin:
        raise NotAllowed(f"Only hosting staff may {what}.")
    return Server.objects.select_for_update(of=("self",)).get(pk=server.pk)


def _data_ports(server: Server) -> list[SwitchPort]:
    """The ports suspend shuts: every connected port but the BMC's, each known by ifIndex."""
    ports = list(server.switch_ports.data().select_related("switch"))
    if not ports:
        raise Conflict(
            f"{server.name} has no switch port connected (other than its BMC's): connect its "
            "data ports first (Switch ports in the admin, or /api/v1/switch-ports/)."
        )
    unknown = [str(port) for port in ports if port.if_index is None]
    if unknown:
        raise Conflict(
            f"The switch does not know these ports by ifIndex yet: {', '.join(unknown)}. "
            "Run port discovery on the switch first."
        )
    return ports


def _queue_port_change(actor: User, server: Server, kind: str, what: str, **params):
    """Lock the server for staff and queue the operation that sets its data ports."""
    server = _lock_for_staff(actor, server, what)
    ports = [port.pk for port in _data_ports(server)]
    return server, _start(actor=actor, server=server, kind=kind, params={**params, "ports": ports})


@transaction.atomic
def request_suspend(*, actor: User, server: Server, reason: str = "") -> Operation:
    """Mark the server suspended at once (its customer's requests are refused from now on) and
    queue the operation that shuts its data ports and reads them back."""
    server, op = _queue_port_change(
        actor, server, Operation.Kind.SUSPEND, "suspend a server", reason=reason
    )
    server.suspend_reason = reason
    if not server.suspended:
        server.suspended, server.suspended_at = True, timezone.now()
    server.save(update_fields=["suspended", "suspend_reason", "suspended_at", "updated_at"])
    return op


@transaction.atomic
def request_resume(*, actor: User, server: Server) -> Operation:
    """Lift the suspension and queue the operation that opens the data ports again."""
    server, op = _queue_port_change(actor, server, Operation.Kind.RESUME, "resume a server")
    server.suspended, server.suspend_reason, server.suspended_at = False, "", None
    server.save(update_fields=["suspended", "suspend_reason", "suspended_at", "updated_at"])
    return op


PDU_KINDS = {
    "on": Operation.Kind.PDU_ON,
    "off": Operation.Kind.PDU_OFF,
    "cycle": Operation.Kind.PDU_CYCLE,
}


@transaction.atomic
def request_outlet_power(*, actor: User, server: Server, action: str) -> Operation:
    """Switch the server's PDU outlets: the hard power of last resort, when its BMC hangs."""
    if action not in PDU_KINDS:
        raise ValueError(action)
    server = _lock_for_staff(actor, server, "switch PDU outlets")
    outlets = list(server.pdu_outlets.select_related("pdu"))
    if not outlets:
        raise Conflict(
            f"{server.name} has no PDU outlet connected: connect it first (PDU outlets in the "
            "admin, or /api/v1/pdu-outlets/)."
        )
    params = {"action": action, "outlets": [outlet.pk for outlet in outlets]}
    if action == "cycle":
        params["cycle_seconds"] = max(outlet.pdu.cycle_seconds for outlet in outlets)
    return _start(actor=actor, server=server, kind=PDU_KINDS[action], params=params)


def _replay_install(actor: User, server: Server, params: dict) -> Operation:
    if not params.get("ssh_keys"):
        raise Conflict(
            "An install is retried with its SSH keys only: its root password is not kept once "
            "the install ends. Reinstall from the server page with a new password."
        )
    template = OsTemplate.objects.filter(pk=params.get("os_template")).first()
    if template is None:
        raise Conflict(f"OS template {params.get('os_name', '?')} no longer exists.")
    return start_install(
        actor=actor,
        server=server,
        template=template,
        raid=params.get("raid", "no_raid"),
        ssh_key_texts=params["ssh_keys"],
        reboot=params.get("reboot", "auto"),
    )


def _replay_power(actor: User, server: Server, params: dict) -> Operation:
    return request_power(
        actor=actor, server=server, action=params["action"], timeout=params.get("timeout")
    )


# How each kind is started again from its stored params, through the service that started it.
_REPLAY = {
    **{kind: _replay_power for kind in KIND_FOR_ACTION.values()},
    Operation.Kind.SET_BOOTDEV: lambda actor, server, params: request_boot_device(
        actor=actor, server=server, device=params["device"], persistent=params["persistent"]
    ),
    Operation.Kind.INSTALL: _replay_install,
    Operation.Kind.DIAGNOSTICS: lambda actor, server, params: start_diagnostics(
        actor=actor, server=server, wipe=params.get("wipe", "none")
    ),
    Operation.Kind.WIPE: lambda actor, server, params: start_wipe(
        actor=actor, server=server, mode=params["wipe"]
    ),
    Operation.Kind.SUSPEND: lambda actor, server, params: request_suspend(
        actor=actor, server=server, reason=params.get("reason", "")
    ),
    Operation.Kind.RESUME: lambda actor, server, params: request_resume(actor=actor, server=server),
    **{
        kind: lambda actor, server, params: request_outlet_power(
            actor=actor, server=server, action=params["action"]
        )
        for kind in PDU_KINDS.values()
    },
}
RETRYABLE_STATES = (Operation.State.FAILED, Operation.State.CANCELLED)


def retry_operation(*, actor: User, operation: Operation) -> Operation:
    """Start a failed or cancelled operation again: a new operation of the same kind with the
    same parameters, through the same service (so checked and audited as a new request).

    An install is replayed with its template, RAID, reboot mode and SSH keys; its root
    password hash is dropped when an install ends (a crypt hash can be attacked offline), so
    an install without keys is refused rather than replayed without any way to log in.
    """
    if not actor.is_admin:
        raise NotAllowed("Only hosting staff may retry an operation.")
    if operation.state not in RETRYABLE_STATES:
        raise Conflict(
            f"Operation #{operation.pk} is {operation.get_state_display().lower()}; only a "
            "failed or cancelled operation is retried."
        )
    replay = _REPLAY.get(operation.kind)
    if replay is None:
        raise Conflict(f"A {operation.get_kind_display().lower()} cannot be retried.")
    retried = replay(actor, operation.server, operation.params_after_end())
    audit.record(
        actor=actor,
        action="operation.retry",
        target=operation.server,
        operation=retried.pk,
        retry_of=operation.pk,
    )
    return retried
