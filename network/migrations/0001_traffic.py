"""Traffic accounting: per-port counter baselines, a row per port per UTC day holding its
slots, monthly rollups per server; and the hourly upkeep (rollups, retention) as a schedule."""

import django.db.models.deletion
from django.db import migrations, models

from panel import schedules

class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("inventory", "0005_switches_and_pdus"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="PortCounter",
            fields=[
                (
                    "port",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="traffic_counter",
                        serialize=False,
                        to="inventory.switchport",
                    ),
                ),
                ("read_at", models.DateTimeField()),
                (
                    "uptime_ticks",
                    models.BigIntegerField(help_text="sysUpTime, hundredths of a second"),
                ),
                ("in_octets", models.BigIntegerField()),
                ("out_octets", models.BigIntegerField()),
                ("pending_in", models.BigIntegerField(null=True)),
                ("pending_out", models.BigIntegerField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name="TrafficMonth",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "server",
                        "month",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("month", models.DateField(help_text="The month's first day")),
                ("bytes_in", models.BigIntegerField()),
                ("bytes_out", models.BigIntegerField()),
                ("p95_in_bps", models.BigIntegerField(null=True)),
                ("p95_out_bps", models.BigIntegerField(null=True)),
                ("samples_present", models.PositiveIntegerField()),
                ("samples_expected", models.PositiveIntegerField()),
                (
                    "server",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.server",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="TrafficDay",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "server",
                        "day",
                        "port",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("day", models.DateField()),
                ("bytes_in", models.BigIntegerField(default=0)),
                ("bytes_out", models.BigIntegerField(default=0)),
                ("slots", models.BinaryField()),
                (
                    "port",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.switchport",
                    ),
                ),
                (
                    "server",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.server",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["day"], name="trafficday_day")],
            },
        ),
        schedules.every(
            60, "metalpanel: traffic rollups and retention", "network.tasks.maintain_traffic_tables"
        ),
    ]
