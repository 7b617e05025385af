import django.utils.timezone
from django.db import migrations, models


def since_created(apps, schema_editor):
    """Existing addresses last changed, as far as anyone can tell, when they were allocated."""
    IpAddress = apps.get_model("inventory", "IpAddress")
    IpAddress.objects.update(updated_at=models.F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0007_server_owner_since"),
    ]

    operations = [
        migrations.AlterField(
            model_name="server",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
        migrations.AddField(
            model_name="ipaddress",
            name="updated_at",
            field=models.DateTimeField(
                auto_now=True, db_index=True, default=django.utils.timezone.now
            ),
            preserve_default=False,
        ),
        migrations.RunPython(since_created, migrations.RunPython.noop),
    ]
