"""The sweep that queues due webhook deliveries (retries, and any a worker never took) runs
every minute."""

from django.db import migrations

from panel import schedules


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedules.every(1, "metalpanel: queue due webhook deliveries", "webhooks.tasks.queue_due")
    ]
