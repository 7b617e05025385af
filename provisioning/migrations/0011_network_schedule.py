"""Switch-port and PDU-outlet states are read every minute, beside the power sync."""

from django.db import migrations

NAME = "metalpanel: sync switch ports and PDU outlets"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "provisioning.tasks.sync_network_states",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0010_network_operation_kinds")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
