"""Every state change on inventory: enrolment, ownership, IPAM. Each one is audited."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from inventory.addresses import normalise_mac
from inventory.models import ACTIVE_OPERATION_STATES, Bmc, HardwareProfile, Rack, Server
from panel import audit
from panel.exceptions import Conflict
from panel.models import User

SERVER_FIELDS = ("name", "profile", "rack", "unit", "mac", "serial", "state", "notes", "facts")
BMC_FIELDS = ("address", "port", "username", "password")


def _check_server(server: Server) -> None:
    """Meaningful checks a form or serializer cannot make alone; field errors by name."""
    errors = {}
    try:
        Server._meta.get_field("name").clean(server.name, server)
    except ValidationError as exc:
        errors["name"] = exc.messages
    if server.mac:
        try:
            server.mac = normalise_mac(server.mac)
        except ValidationError as exc:
            errors["mac"] = exc.messages
        else:
            if Server.objects.filter(mac=server.mac).exclude(pk=server.pk).exists():
                errors["mac"] = [f"Another server already has MAC {server.mac}."]
    else:
        server.mac = None
    if (server.rack is None) != (server.unit is None):
        errors["unit" if server.rack else "rack"] = ["Give both the rack and the unit, or neither."]
    elif server.rack is not None:
        if not 1 <= server.unit <= server.rack.size_u:
            errors["unit"] = [f"Rack {server.rack.name} has units 1 to {server.rack.size_u}."]
        else:
            taken = Server.objects.filter(rack=server.rack, unit=server.unit).exclude(pk=server.pk)
            holder = taken.values_list("name", flat=True).first()
            if holder:
                errors["unit"] = [f"Unit {server.unit} of rack {server.rack.name} holds {holder}."]
    if (
        "name" not in errors
        and Server.objects.filter(name=server.name).exclude(pk=server.pk).exists()
    ):
        errors["name"] = [f"A server named {server.name} already exists."]
    if errors:
        raise ValidationError(errors)


def _check_bmc(bmc: Bmc) -> None:
    clash = Bmc.objects.filter(address=bmc.address, port=bmc.port).exclude(pk=bmc.pk)
    holder = clash.values_list("server__name", flat=True).first()
    if holder:
        raise ValidationError({"bmc": [f"BMC {bmc.address}:{bmc.port} belongs to {holder}."]})


def _save(*objects) -> None:
    """Save inside the caller's transaction; a constraint lost to a concurrent write is a 409."""
    try:
        with transaction.atomic():
            for obj in objects:
                obj.save()
    except IntegrityError as exc:
        raise Conflict(
            "Another change to the same server, unit, MAC or BMC won; reload and retry."
        ) from exc


@transaction.atomic
def enrol_server(
    *,
    actor: User,
    name: str,
    profile: HardwareProfile,
    bmc: dict,
    rack: Rack | None = None,
    unit: int | None = None,
    mac: str | None = None,
    serial: str = "",
    state: str = Server.State.READY,
    notes: str = "",
    facts: dict | None = None,
) -> Server:
    """Bring a physical server under management with its BMC credentials."""
    server = Server(
        name=name,
        profile=profile,
        rack=rack,
        unit=unit,
        mac=mac,
        serial=serial,
        state=state,
        notes=notes,
        facts=facts or {},
    )
    _check_server(server)
    controller = Bmc(address=bmc["address"], port=bmc.get("port", 623), username=bmc["username"])
    controller.set_password(bmc["password"])
    _check_bmc(controller)
    _save(server)
    controller.server = server
    _save(controller)
    audit.record(
        actor=actor,
        action="server.enrol",
        target=server,
        profile=profile.name,
        bmc=f"{controller.address}:{controller.port}",
        mac=server.mac,
    )
    return server


@transaction.atomic
def update_server(*, actor: User, server: Server, bmc: dict | None = None, **changes) -> Server:
    """Change a server's record or its BMC endpoint and credentials."""
    unknown = set(changes) - set(SERVER_FIELDS) or set(bmc or {}) - set(BMC_FIELDS)
    if unknown:
        raise ValueError(f"Not server fields: {sorted(unknown)}")
    server = Server.objects.select_for_update().get(pk=server.pk)
    changed = sorted(name for name, value in changes.items() if getattr(server, name) != value)
    for name, value in changes.items():
        setattr(server, name, value)
    _check_server(server)
    to_save = [server]
    if bmc:
        controller = server.bmc
        for name in ("address", "port", "username"):
            if name in bmc and getattr(controller, name) != bmc[name]:
                setattr(controller, name, bmc[name])
                changed.append(f"bmc.{name}")
        if bmc.get("password"):
            controller.set_password(bmc["password"])
            changed.append("bmc.password")
        _check_bmc(controller)
        to_save.append(controller)
    _save(*to_save)
    audit.record(actor=actor, action="server.update", target=server, changed=changed)
    return server


def _refuse_while_busy(server: Server, change: str) -> None:
    """An operation in progress keeps its server's owner and record: an install carries its
    owner's password and keys. The caller holds the server's row lock, which provisioning
    takes too before it starts an operation, so none can start between this check and the
    change. Operations live in provisioning, which depends on inventory and not the
    reverse: they are reached through the reverse relation, by name, with no import."""
    active = server.operations.filter(state__in=ACTIVE_OPERATION_STATES).order_by("pk").first()
    if active is not None:
        raise Conflict(
            f"{server.name} has an active operation #{active.pk} "
            f"({active.get_kind_display().lower()}, {active.state}); it can be {change} once "
            "that operation ends or is cancelled.",
            operation=active.pk,
        )


@transaction.atomic
def delete_server(*, actor: User, server: Server) -> None:
    """Remove a server from inventory; its addresses return to their pools."""
    server = Server.objects.select_for_update().get(pk=server.pk)
    if server.owner_id:
        raise Conflict(f"{server.name} is assigned to {server.owner}; release it first.")
    _refuse_while_busy(server, "removed")
    audit.record(
        actor=actor,
        action="server.delete",
        target=server,
        addresses=list(server.ip_addresses.values_list("address", flat=True)),
    )
    server.delete()


@transaction.atomic
def assign_owner(*, actor: User, server: Server, owner: User) -> Server:
    """Hand a free server to a customer."""
    server = (
        Server.objects.select_for_update(of=("self",)).select_related("owner").get(pk=server.pk)
    )
    if owner.role != User.Role.CUSTOMER or not owner.is_active:
        raise ValidationError({"owner": ["Servers can be assigned only to active customers."]})
    if server.owner_id == owner.pk:
        return server
    if server.owner_id:
        raise Conflict(f"{server.name} already belongs to {server.owner}; release it first.")
    if server.state != Server.State.READY:
        raise Conflict(f"{server.name} is {server.get_state_display().lower()}, not ready.")
    _refuse_while_busy(server, "assigned")
    server.owner = owner
    server.save(update_fields=["owner", "updated_at"])
    audit.record(actor=actor, action="server.assign_owner", target=server, owner=owner.email)
    return server


@transaction.atomic
def release_owner(*, actor: User, server: Server) -> Server:
    """Take a server back from its customer (releasing an unowned one changes nothing)."""
    server = (
        Server.objects.select_for_update(of=("self",)).select_related("owner").get(pk=server.pk)
    )
    if server.owner_id is None:
        return server
    _refuse_while_busy(server, "released")
    previous = server.owner.email
    server.owner = None
    server.save(update_fields=["owner", "updated_at"])
    audit.record(actor=actor, action="server.release_owner", target=server, owner=previous)
    return server
