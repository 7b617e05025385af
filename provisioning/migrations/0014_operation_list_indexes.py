"""Operations indexed for the lists' filters, newest first: (server, created_at) replaces the
index on server alone, (state, created_at) the one on state; (kind, created_at) is new."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# On PostgreSQL, dropping the index of `server` alone (AlterField) also drops every other
# index on that one column, the partial unique index of this constraint among them: it is
# removed first and made again after.
ONE_ACTIVE = models.UniqueConstraint(
    condition=models.Q(("state__in", ["queued", "running"])),
    fields=("server",),
    name="one_active_operation_per_server",
)


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0010_list_indexes'),
        ('provisioning', '0013_sweeprecord'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="operation", name=ONE_ACTIVE.name),
        migrations.AlterField(
            model_name='operation',
            name='server',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='operations', to='inventory.server'),
        ),
        migrations.AddConstraint(model_name="operation", constraint=ONE_ACTIVE),
        migrations.AlterField(
            model_name='operation',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=16),
        ),
        migrations.AddIndex(
            model_name='operation',
            index=models.Index(fields=['server', 'created_at'], name='operation_server_created'),
        ),
        migrations.AddIndex(
            model_name='operation',
            index=models.Index(fields=['state', 'created_at'], name='operation_state_created'),
        ),
        migrations.AddIndex(
            model_name='operation',
            index=models.Index(fields=['kind', 'created_at'], name='operation_kind_created'),
        ),
    ]
