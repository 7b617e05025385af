"""The traffic poll runs every minute and reads the ports whose last reading is an interval
(PANEL_TRAFFIC_POLL_SECONDS) old."""

from django.db import migrations

from panel import schedules


class Migration(migrations.Migration):
    dependencies = [("network", "0001_traffic")]

    operations = [
        schedules.every(1, "metalpanel: poll switch traffic counters", "network.tasks.poll_traffic")
    ]
