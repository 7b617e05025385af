"""Switch-port and PDU-outlet states are read every minute, beside the power sync."""

from django.db import migrations

from panel import schedules


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0010_network_operation_kinds")]

    operations = [
        schedules.every(
            1,
            "metalpanel: sync switch ports and PDU outlets",
            "provisioning.tasks.sync_network_states",
        )
    ]
