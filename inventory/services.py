"""Every state change on inventory: enrolment, ownership, switches, PDUs and the servers'
connections to them. Each one is audited."""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from inventory.addresses import normalise_mac, validate_device_address
from inventory.events import server_data
from inventory.models import (
    ACTIVE_OPERATION_STATES,
    Bmc,
    HardwareProfile,
    Pdu,
    PduOutlet,
    Rack,
    Server,
    SnmpDevice,
    Switch,
    SwitchPort,
)
from panel import audit
from panel.exceptions import Conflict
from panel.models import User
from webhooks.events import publish

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


def _save(
    *objects,
    conflict: str = "Another change to the same server, unit, MAC or BMC won",
    bmc_fields: list[str] | None = None,
) -> None:
    """Save inside the caller's transaction; a constraint lost to a concurrent write is a 409.
    A BMC already stored saves only `bmc_fields`: its power readings and sweep claims are the
    power sync's, written meanwhile by other processes."""
    try:
        with transaction.atomic():
            for obj in objects:
                if isinstance(obj, Bmc) and obj.pk and bmc_fields is not None:
                    obj.save(update_fields=bmc_fields)
                else:
                    obj.save()
    except IntegrityError as exc:
        raise Conflict(f"{conflict}; reload and retry.") from exc


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
    to_save, bmc_fields = [server], []
    if bmc:
        controller = server.bmc
        for name in ("address", "port", "username"):
            if name in bmc and getattr(controller, name) != bmc[name]:
                setattr(controller, name, bmc[name])
                changed.append(f"bmc.{name}")
                bmc_fields.append(name)
        if bmc.get("password"):
            controller.set_password(bmc["password"])
            changed.append("bmc.password")
            bmc_fields.append("password_encrypted")
        _check_bmc(controller)
        if bmc_fields:
            to_save.append(controller)
    _save(*to_save, bmc_fields=bmc_fields)
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
    server.owner, server.owner_since = owner, timezone.now()
    server.save(update_fields=["owner", "owner_since", "updated_at"])
    audit.record(actor=actor, action="server.assign_owner", target=server, owner=owner.email)
    publish("server.assigned", server_data(server))
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
    previous = server.owner
    server.owner, server.owner_since = None, None
    server.save(update_fields=["owner", "owner_since", "updated_at"])
    audit.record(actor=actor, action="server.release_owner", target=server, owner=previous.email)
    publish("server.released", server_data(server, owner=previous))
    return server


# Switches and PDUs, their ports and outlets, and the servers connected to them.

SNMP_KEY_MIN_LENGTH = 8  # USM (RFC 3414) derives keys from passphrases of at least 8 octets
AUDIT_NAMES = {Switch: "switch", Pdu: "pdu", SwitchPort: "switch_port", PduOutlet: "pdu_outlet"}


def check_snmp_device(device: SnmpDevice, secrets: Mapping[str, str] | None = None) -> None:
    """What a switch or PDU must be before it is saved, field errors by name: valid fields,
    an address no other device of its kind has, and the credentials its SNMP version needs.
    `secrets` are those about to be set ("" clears one); a secret not named is the stored one."""
    secrets = secrets or {}
    errors: dict[str, list[str]] = {}
    try:
        device.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        device.address = validate_device_address(device.address)
    except ValidationError as exc:
        errors.setdefault("address", exc.messages)
    if "address" not in errors and "port" not in errors:
        clash = type(device).objects.filter(address=device.address, port=device.port)
        holder = clash.exclude(pk=device.pk).values_list("name", flat=True).first()
        if holder:
            errors["address"] = [f"{device.address}:{device.port} is already {holder}."]
    for name in ("auth_key", "priv_key"):
        if 0 < len(secrets.get(name) or "") < SNMP_KEY_MIN_LENGTH:
            errors[name] = [f"SNMP v3 keys are at least {SNMP_KEY_MIN_LENGTH} characters long."]

    def has(name: str) -> bool:
        return bool(secrets[name]) if name in secrets else device.has_secret(name)

    if device.snmp_version == SnmpDevice.Version.V2C:
        if not has("community"):
            errors["community"] = ["SNMP v2c needs a community."]
    else:
        if not device.username:
            errors["username"] = ["SNMP v3 needs a user."]
        if device.priv_protocol and not device.auth_protocol:
            errors["auth_protocol"] = ["Privacy needs authentication too: choose its protocol."]
        for key, protocol in (("auth_key", "auth_protocol"), ("priv_key", "priv_protocol")):
            if getattr(device, protocol) and not has(key):
                errors.setdefault(key, ["The protocol needs its key."])
            elif has(key) and not getattr(device, protocol):
                errors.setdefault(protocol, ["Choose the protocol of the key."])
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_snmp_device(
    *, actor: User | None, device: Switch | Pdu, secrets: Mapping[str, str] | None = None
) -> Switch | Pdu:
    """Create or change a switch or PDU. `secrets` sets `community`, `auth_key` or
    `priv_key` (stored encrypted) or clears one with ""; a secret not named is kept."""
    secrets = dict(secrets or {})
    if set(secrets) - set(SnmpDevice.SECRETS):
        raise ValueError(f"Not SNMP secrets: {sorted(set(secrets) - set(SnmpDevice.SECRETS))}")
    model, label = type(device), AUDIT_NAMES[type(device)]
    stored = model.objects.select_for_update().filter(pk=device.pk).first() if device.pk else None
    check_snmp_device(device, secrets)
    changed = _changed_fields(stored, device)
    for name, value in secrets.items():
        if value or device.has_secret(name):
            changed.append(f"{name} {'set' if value else 'cleared'}")
        device.set_secret(name, value)
    _save(device, conflict=f"Another change to the same {model._meta.verbose_name} won")
    if stored is None:
        audit.record(
            actor=actor,
            action=f"{label}.create",
            target=device,
            address=f"{device.address}:{device.port}",
            snmp_version=device.snmp_version,
            secrets=sorted(name for name in SnmpDevice.SECRETS if device.has_secret(name)),
        )
    else:
        audit.record(actor=actor, action=f"{label}.update", target=device, changed=changed)
    return device


@transaction.atomic
def delete_snmp_device(*, actor: User | None, device: Switch | Pdu) -> None:
    """Remove a switch or PDU with its ports or outlets; the audit names the servers that
    lose their connections."""
    points = device.ports if isinstance(device, Switch) else device.outlets
    servers = points.exclude(server=None).order_by("server__name").values_list("server__name")
    audit.record(
        actor=actor,
        action=f"{AUDIT_NAMES[type(device)]}.delete",
        target=device,
        disconnected=sorted({name for (name,) in servers}),
    )
    device.delete()


def _changed_fields(stored, current) -> list[str]:
    if stored is None:
        return []
    return [
        field.name
        for field in type(current)._meta.concrete_fields
        if field.name not in ("id", "server")
        and getattr(stored, field.attname) != getattr(current, field.attname)
    ]


def _check_point(point, stored, device: str, key: str, noun: str) -> tuple[dict, models.QuerySet]:
    """What ports and outlets share: valid fields, they stay on their device and their `key`
    is unique on it. Returns the field errors and the device's other ports or outlets."""
    errors: dict[str, list[str]] = {}
    try:
        point.full_clean(exclude=[device, "server"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    device_id = getattr(point, f"{device}_id")
    if stored is not None and getattr(stored, f"{device}_id") != device_id:
        errors[device] = [f"It stays on its {device}: remove it and add another."]
    siblings = type(point).objects.filter(**{f"{device}_id": device_id}).exclude(pk=point.pk)
    if key not in errors and siblings.filter(**{key: getattr(point, key)}).exists():
        errors[key] = [f"{getattr(point, device).name} already has {noun} {getattr(point, key)}."]
    return errors, siblings


def _check_switch_port(port: SwitchPort, stored: SwitchPort | None) -> None:
    errors, siblings = _check_point(port, stored, "switch", "name", "a port named")
    if port.if_index is not None:
        other = siblings.filter(if_index=port.if_index).values_list("name", flat=True).first()
        if other:
            errors["if_index"] = [f"ifIndex {port.if_index} of {port.switch.name} is {other}."]
    if port.is_ipmi_connection and port.server_id is None:
        if stored is not None and stored.server_id is not None:
            port.is_ipmi_connection = False  # disconnected: no longer anyone's BMC port
        else:
            errors["is_ipmi_connection"] = ["Only a port connected to a server is its BMC port."]
    if errors:
        raise ValidationError(errors)


def _check_pdu_outlet(outlet: PduOutlet, stored: PduOutlet | None) -> None:
    errors, _ = _check_point(outlet, stored, "pdu", "number", "outlet")
    if errors:
        raise ValidationError(errors)


_CHECKS = {SwitchPort: _check_switch_port, PduOutlet: _check_pdu_outlet}


def move_refusal(point: SwitchPort | PduOutlet) -> str:
    """Why a port or outlet connected to a server is not simply given to another."""
    return f"{point} is connected to {point.server.name}; disconnect it first."


def check_connection_point(point: SwitchPort | PduOutlet) -> None:
    """The checks of `save_switch_port` and `save_pdu_outlet` as field errors, for a form."""
    stored = None
    if point.pk:
        stored = type(point).objects.select_related("server").filter(pk=point.pk).first()
    moved = stored is not None and None not in (stored.server_id, point.server_id)
    if moved and stored.server_id != point.server_id:
        raise ValidationError({"server": [move_refusal(stored)]})
    _CHECKS[type(point)](point, stored)


def _save_connection_point(actor: User | None, point) -> SwitchPort | PduOutlet:
    """Save a port or outlet; its server changing is audited as a disconnect and a connect.
    One connected to a server is never moved to another: disconnecting it comes first."""
    model, label = type(point), AUDIT_NAMES[type(point)]
    stored = None
    if point.pk:
        stored = (
            model.objects.select_for_update(of=("self",)).select_related("server").get(pk=point.pk)
        )
    previous = stored.server if stored is not None else None
    if previous is not None and point.server_id not in (None, previous.pk):
        raise Conflict(move_refusal(stored), server=previous.pk)
    _CHECKS[model](point, stored)
    changed = _changed_fields(stored, point)
    _save(point, conflict=f"Another change to {point} won")
    if stored is None:
        audit.record(actor=actor, action=f"{label}.create", target=point)
    elif changed:
        audit.record(actor=actor, action=f"{label}.update", target=point, changed=changed)
    if previous is not None and previous.pk != point.server_id:
        audit.record(actor=actor, action=f"{label}.disconnect", target=point, server=previous.name)
    if point.server_id is not None and previous is None:
        detail = {"bmc_port": point.is_ipmi_connection} if model is SwitchPort else {}
        audit.record(
            actor=actor, action=f"{label}.connect", target=point, server=point.server.name, **detail
        )
    return point


@transaction.atomic
def save_switch_port(*, actor: User | None, port: SwitchPort) -> SwitchPort:
    """Create or change a switch port, connecting or disconnecting its server (a port
    connected to another server is a Conflict)."""
    return _save_connection_point(actor, port)


@transaction.atomic
def save_pdu_outlet(*, actor: User | None, outlet: PduOutlet) -> PduOutlet:
    """Create or change a PDU outlet, connecting or disconnecting its server (an outlet
    feeding another server is a Conflict)."""
    return _save_connection_point(actor, outlet)


@transaction.atomic
def connect_switch_port(
    *, actor: User | None, port: SwitchPort, server: Server, is_ipmi_connection: bool = False
) -> SwitchPort:
    """Connect a server to a switch port (its BMC's port with `is_ipmi_connection`)."""
    port = (
        SwitchPort.objects.select_for_update(of=("self",)).select_related("switch").get(pk=port.pk)
    )
    port.server, port.is_ipmi_connection = server, is_ipmi_connection
    return save_switch_port(actor=actor, port=port)


@transaction.atomic
def disconnect_switch_port(*, actor: User | None, port: SwitchPort) -> SwitchPort:
    port = (
        SwitchPort.objects.select_for_update(of=("self",)).select_related("switch").get(pk=port.pk)
    )
    port.server, port.is_ipmi_connection = None, False
    return save_switch_port(actor=actor, port=port)


@transaction.atomic
def connect_pdu_outlet(*, actor: User | None, outlet: PduOutlet, server: Server) -> PduOutlet:
    """Connect a server's power supply to a PDU outlet."""
    outlet = (
        PduOutlet.objects.select_for_update(of=("self",)).select_related("pdu").get(pk=outlet.pk)
    )
    outlet.server = server
    return save_pdu_outlet(actor=actor, outlet=outlet)


@transaction.atomic
def disconnect_pdu_outlet(*, actor: User | None, outlet: PduOutlet) -> PduOutlet:
    outlet = (
        PduOutlet.objects.select_for_update(of=("self",)).select_related("pdu").get(pk=outlet.pk)
    )
    outlet.server = None
    return save_pdu_outlet(actor=actor, outlet=outlet)


def switch_port_named(*, actor: User | None, switch: Switch, name: str) -> SwitchPort:
    """The switch's port of that name, created (without its ifIndex, which discovery sets)
    if the switch has none yet."""
    port = SwitchPort.objects.filter(switch=switch, name=name).first()
    return port or save_switch_port(actor=actor, port=SwitchPort(switch=switch, name=name))


def pdu_outlet_numbered(*, actor: User | None, pdu: Pdu, number: int) -> PduOutlet:
    """The PDU's outlet of that number, created if the PDU has none yet."""
    outlet = PduOutlet.objects.filter(pdu=pdu, number=number).first()
    return outlet or save_pdu_outlet(actor=actor, outlet=PduOutlet(pdu=pdu, number=number))


@transaction.atomic
def delete_connection_point(*, actor: User | None, point: SwitchPort | PduOutlet) -> None:
    """Remove a switch port or PDU outlet from inventory (discovery may find it again)."""
    audit.record(
        actor=actor,
        action=f"{AUDIT_NAMES[type(point)]}.delete",
        target=point,
        server=point.server.name if point.server_id else None,
    )
    point.delete()
