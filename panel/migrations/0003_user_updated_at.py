import django.utils.timezone
from django.db import migrations, models


def since_joined(apps, schema_editor):
    """Existing users last changed, as far as anyone can tell, when they joined."""
    User = apps.get_model("panel", "User")
    User.objects.update(updated_at=models.F("date_joined"))


class Migration(migrations.Migration):
    dependencies = [
        ("panel", "0002_failed_logins"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="updated_at",
            field=models.DateTimeField(
                auto_now=True, db_index=True, default=django.utils.timezone.now
            ),
            preserve_default=False,
        ),
        migrations.RunPython(since_joined, migrations.RunPython.noop),
    ]
