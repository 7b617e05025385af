"""Server names become host names (inventory.addresses.validate_host_name).

Names that only differ from a host name by case or by spaces around them are fixed (host
names are case-insensitive, so nothing is lost), unless the fixed name would be another
server's. Every other name is kept as it is, never guessed at: billing systems and people
know servers by it, and a rename is staff's decision. Each one is reported on the console
and as a `server.name_invalid` audit event; staff rename them in the admin, which refuses
to save the server until they do. Until then the installers derive a valid host name from
it and every value they render is escaped. Each rename is a `server.rename` audit event.
"""

import sys
from collections import Counter

import inventory.addresses
from django.core.exceptions import ValidationError
from django.db import migrations, models

BY = "migration 0004"


def _is_host_name(name):
    try:
        inventory.addresses.validate_host_name(name)
    except ValidationError:
        return False
    return True


def names_are_host_names(apps, schema_editor):
    Server = apps.get_model("inventory", "Server")
    AuditEvent = apps.get_model("panel", "AuditEvent")
    servers = list(Server.objects.order_by("pk").values_list("pk", "name"))
    owner_of = {name: pk for pk, name in servers}
    invalid = [(pk, name) for pk, name in servers if not _is_host_name(name)]
    wanted = Counter(name.strip().lower() for _pk, name in invalid)
    renamed, kept = [], []
    for pk, name in invalid:
        fixed = name.strip().lower()
        if not _is_host_name(fixed):
            kept.append((pk, name, "not a host name even in lower case"))
        elif fixed in owner_of:
            kept.append((pk, name, f"in lower case it would be the name of server #{owner_of[fixed]}"))
        elif wanted[fixed] > 1:
            kept.append((pk, name, "another server's name is the same in lower case"))
        else:
            Server.objects.filter(pk=pk).update(name=fixed)
            renamed.append((pk, name, fixed))
    for pk, name, fixed in renamed:
        _audit(AuditEvent, "server.rename", pk, fixed, {"from": name, "to": fixed, "by": BY})
        sys.stdout.write(f"\n  Renamed server #{pk} {name!r} to {fixed!r}.")
    for pk, name, reason in kept:
        _audit(AuditEvent, "server.name_invalid", pk, name, {"name": name, "reason": reason, "by": BY})
        sys.stdout.write(f"\n  Server #{pk} {name!r} keeps its name: {reason}.")
    if kept:
        sys.stdout.write(
            f"\n  {len(kept)} server names are not host names (a-z, 0-9 and hyphens, at most 63): "
            "rename these in the admin.\n"
        )


def _audit(AuditEvent, action, pk, name, detail):
    AuditEvent.objects.create(
        action=action,
        target_type="inventory.server",
        target_id=str(pk),
        target_repr=name[:200],
        detail=detail,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0003_network_boot"),
        ("panel", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(names_are_host_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="server",
            name="name",
            field=models.CharField(
                max_length=100, unique=True, validators=[inventory.addresses.validate_host_name]
            ),
        ),
    ]
