"""The periodic work every deployment needs: power-state sync and operation recovery."""

from django.db import migrations

SCHEDULES = [
    ("metalpanel: sync power states", "provisioning.tasks.sync_power_states"),
    ("metalpanel: recover operations", "provisioning.tasks.recover_operations"),
]


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1}
        )


def delete_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[n for n, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
