"""Periodic work as django-q2 schedules, which data migrations create (and remove when
migrated back), so every deployment has them without a manual step."""

from django.db import migrations


def every(minutes: int, name: str, func: str) -> migrations.RunPython:
    """The migration operation that schedules `func` (a dotted path) every `minutes`."""

    def create(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1},
        )

    def delete(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.filter(name=name).delete()

    return migrations.RunPython(create, delete)
