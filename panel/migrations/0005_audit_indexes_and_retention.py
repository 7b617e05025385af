"""The audit log's indexes for the API's filters, and the daily purge of history past its
retention (panel.retention)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from panel import schedules


class Migration(migrations.Migration):

    dependencies = [
        ('panel', '0004_user_notify_by_email'),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor', 'created_at'], name='auditevent_actor_created'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['action', 'created_at'], name='auditevent_action_created'),
        ),
        schedules.every(
            24 * 60, "metalpanel: purge history past its retention", "panel.tasks.purge_history"
        ),
    ]
