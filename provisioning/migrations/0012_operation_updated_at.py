import django.utils.timezone
from django.db import migrations, models
from django.db.models.functions import Coalesce


def last_known_change(apps, schema_editor):
    """Existing operations last changed when they finished, started or were queued."""
    Operation = apps.get_model("provisioning", "Operation")
    Operation.objects.update(updated_at=Coalesce("finished_at", "started_at", "created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0011_network_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="updated_at",
            field=models.DateTimeField(
                auto_now=True, db_index=True, default=django.utils.timezone.now
            ),
            preserve_default=False,
        ),
        migrations.RunPython(last_known_change, migrations.RunPython.noop),
    ]
