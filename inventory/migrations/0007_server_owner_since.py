"""A server remembers since when its owner has it, so a customer sees its traffic from then
on, not its last tenant's. Servers owned already take the time of their last assignment in
the audit log (none there: unknown, as before)."""

from django.db import migrations, models


def owned_since_their_assignment(apps, schema_editor):
    Server = apps.get_model("inventory", "Server")
    AuditEvent = apps.get_model("panel", "AuditEvent")
    for server in Server.objects.filter(owner__isnull=False).only("pk"):
        assigned = (
            AuditEvent.objects.filter(
                action="server.assign_owner",
                target_type="inventory.server",
                target_id=str(server.pk),
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if assigned is not None:
            Server.objects.filter(pk=server.pk).update(owner_since=assigned)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0006_snmp_value_ranges"),
        ("panel", "0002_failed_logins"),
    ]

    operations = [
        migrations.AddField(
            model_name="server",
            name="owner_since",
            field=models.DateTimeField(
                blank=True, editable=False, help_text="When the current owner got it", null=True
            ),
        ),
        migrations.RunPython(owned_since_their_assignment, migrations.RunPython.noop),
    ]
