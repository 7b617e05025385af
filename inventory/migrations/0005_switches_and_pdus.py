"""Switches and PDUs become inventory; a switch port names its switch by a foreign key.

Ports recorded before (the switch as free text) keep their rows: each distinct switch name
becomes a Switch whose address is that name, for staff to correct, and the ports' admin
status is unknown until the switch is polled.
"""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def _device_fields():
    return [
        (
            "id",
            models.BigAutoField(
                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
            ),
        ),
        ("name", models.CharField(max_length=100, unique=True)),
        ("address", models.CharField(help_text="IP address or host name", max_length=253)),
        (
            "port",
            models.PositiveIntegerField(
                default=161,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(65535),
                ],
            ),
        ),
        (
            "snmp_version",
            models.CharField(
                choices=[("2c", "SNMP v2c (community)"), ("3", "SNMP v3 (user)")],
                default="2c",
                max_length=2,
                verbose_name="SNMP version",
            ),
        ),
        ("community_encrypted", models.TextField(blank=True, editable=False)),
        ("username", models.CharField(blank=True, max_length=64, verbose_name="SNMP v3 user")),
        (
            "auth_protocol",
            models.CharField(
                blank=True,
                choices=[
                    ("", "None"),
                    ("md5", "HMAC-MD5"),
                    ("sha", "HMAC-SHA-1"),
                    ("sha224", "HMAC-SHA-224"),
                    ("sha256", "HMAC-SHA-256"),
                    ("sha384", "HMAC-SHA-384"),
                    ("sha512", "HMAC-SHA-512"),
                ],
                default="",
                max_length=8,
            ),
        ),
        ("auth_key_encrypted", models.TextField(blank=True, editable=False)),
        (
            "priv_protocol",
            models.CharField(
                blank=True,
                choices=[
                    ("", "None"),
                    ("des", "DES"),
                    ("aes", "AES-128"),
                    ("aes192", "AES-192"),
                    ("aes256", "AES-256"),
                ],
                default="",
                max_length=8,
            ),
        ),
        ("priv_key_encrypted", models.TextField(blank=True, editable=False)),
        (
            "reachable",
            models.BooleanField(blank=True, help_text="Unknown until first polled", null=True),
        ),
        ("last_seen", models.DateTimeField(blank=True, null=True)),
        ("last_error", models.CharField(blank=True, max_length=500)),
        ("consecutive_failures", models.PositiveIntegerField(default=0, editable=False)),
        (
            "next_poll_at",
            models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
        ("notes", models.TextField(blank=True)),
        (
            "location",
            models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="inventory.location",
            ),
        ),
    ]


PORT_STATUS = [
    ("up", "Up"),
    ("down", "Down"),
    ("testing", "Testing"),
    ("unknown", "Unknown"),
    ("dormant", "Dormant"),
    ("notPresent", "Not present"),
    ("lowerLayerDown", "Lower layer down"),
]


def ports_name_their_switch(apps, schema_editor):
    Switch = apps.get_model("inventory", "Switch")
    SwitchPort = apps.get_model("inventory", "SwitchPort")
    names = SwitchPort.objects.order_by().values_list("switch_name", flat=True).distinct()
    for name in names:
        switch = Switch.objects.create(name=name[:100], address=name[:253])
        SwitchPort.objects.filter(switch_name=name).update(switch=switch, admin_status="unknown")


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_server_names_are_host_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="Switch",
            fields=_device_fields()
            + [
                (
                    "drift_policy",
                    models.CharField(
                        choices=[
                            ("record", "Record drift"),
                            ("enforce", "Restore the port state the panel set"),
                        ],
                        default="record",
                        help_text="When a port's admin status changes outside the panel (a "
                        "suspended server's port enabled by hand): record it, or set it back",
                        max_length=8,
                    ),
                ),
            ],
            options={"verbose_name_plural": "switches", "ordering": ["name"], "abstract": False},
        ),
        migrations.CreateModel(
            name="Pdu",
            fields=_device_fields()
            + [
                (
                    "profile",
                    models.CharField(
                        choices=[
                            ("apc_spdu", "APC MasterSwitch (PowerNet sPDUOutletCtl)"),
                            ("apc_rpdu", "APC Rack PDU (PowerNet rPDUOutletControlOutletCommand)"),
                            ("generic", "Generic (an OID per outlet, on/off values)"),
                        ],
                        default="apc_rpdu",
                        max_length=16,
                    ),
                ),
                (
                    "control_oid",
                    models.CharField(
                        blank=True,
                        help_text="Generic profile: the OID the outlet number is appended to, "
                        "to switch it",
                        max_length=200,
                        verbose_name="control OID",
                    ),
                ),
                (
                    "state_oid",
                    models.CharField(
                        blank=True,
                        help_text="Generic profile: the OID the outlet number is appended to, "
                        "to read it (blank: the control OID)",
                        max_length=200,
                        verbose_name="state OID",
                    ),
                ),
                (
                    "on_value",
                    models.IntegerField(blank=True, help_text="Generic profile", null=True),
                ),
                (
                    "off_value",
                    models.IntegerField(blank=True, help_text="Generic profile", null=True),
                ),
                (
                    "cycle_seconds",
                    models.PositiveSmallIntegerField(
                        default=5, help_text="How long an outlet stays off during a power cycle"
                    ),
                ),
            ],
            options={
                "verbose_name": "PDU",
                "verbose_name_plural": "PDUs",
                "ordering": ["name"],
                "abstract": False,
            },
        ),
        migrations.AddConstraint(
            model_name="switch",
            constraint=models.UniqueConstraint(
                fields=("address", "port"), name="switch_unique_endpoint"
            ),
        ),
        migrations.AddConstraint(
            model_name="pdu",
            constraint=models.UniqueConstraint(
                fields=("address", "port"), name="pdu_unique_endpoint"
            ),
        ),
        migrations.CreateModel(
            name="PduOutlet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "number",
                    models.PositiveSmallIntegerField(
                        validators=[django.core.validators.MinValueValidator(1)]
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=64)),
                (
                    "power_state",
                    models.CharField(
                        choices=[("on", "On"), ("off", "Off"), ("unknown", "Unknown")],
                        default="unknown",
                        max_length=8,
                    ),
                ),
                ("state_read_at", models.DateTimeField(blank=True, null=True)),
                ("discovered_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "pdu",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outlets",
                        to="inventory.pdu",
                    ),
                ),
                (
                    "server",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="pdu_outlets",
                        to="inventory.server",
                    ),
                ),
            ],
            options={"ordering": ["pdu", "number"]},
        ),
        migrations.AddConstraint(
            model_name="pduoutlet",
            constraint=models.UniqueConstraint(
                fields=("pdu", "number"), name="pduoutlet_unique_number"
            ),
        ),
        migrations.RemoveConstraint(model_name="switchport", name="switchport_unique"),
        migrations.RenameField(model_name="switchport", old_name="switch", new_name="switch_name"),
        migrations.RenameField(model_name="switchport", old_name="port", new_name="name"),
        migrations.AddField(
            model_name="switchport",
            name="switch",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ports",
                to="inventory.switch",
            ),
        ),
        migrations.AlterField(
            model_name="switchport",
            name="admin_status",
            field=models.CharField(choices=PORT_STATUS, default="unknown", max_length=16),
        ),
        migrations.RunPython(ports_name_their_switch, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="switchport",
            name="switch",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ports",
                to="inventory.switch",
            ),
        ),
        migrations.RemoveField(model_name="switchport", name="switch_name"),
        migrations.AlterField(
            model_name="switchport",
            name="name",
            field=models.CharField(help_text="ifName, e.g. Gi1/0/1", max_length=64),
        ),
        migrations.AlterField(
            model_name="switchport",
            name="description",
            field=models.CharField(blank=True, help_text="ifDescr", max_length=255),
        ),
        migrations.AddField(
            model_name="switchport",
            name="if_index",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Set by discovery; needed to drive the port",
                null=True,
                verbose_name="ifIndex",
            ),
        ),
        migrations.AddField(
            model_name="switchport",
            name="speed_mbps",
            field=models.PositiveIntegerField(blank=True, help_text="ifHighSpeed", null=True),
        ),
        migrations.AddField(
            model_name="switchport",
            name="is_ipmi_connection",
            field=models.BooleanField(
                default=False,
                help_text="Carries the server's BMC: left up when the server is suspended",
                verbose_name="BMC port",
            ),
        ),
        migrations.AddField(
            model_name="switchport",
            name="oper_status",
            field=models.CharField(choices=PORT_STATUS, default="unknown", max_length=16),
        ),
        migrations.AddField(
            model_name="switchport",
            name="status_read_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="switchport",
            name="discovered_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterModelOptions(
            name="switchport", options={"ordering": ["switch", "if_index", "name"]}
        ),
        migrations.AddConstraint(
            model_name="switchport",
            constraint=models.UniqueConstraint(
                fields=("switch", "name"), name="switchport_unique_name"
            ),
        ),
        migrations.AddConstraint(
            model_name="switchport",
            constraint=models.UniqueConstraint(
                fields=("switch", "if_index"), name="switchport_unique_ifindex"
            ),
        ),
        migrations.AddField(
            model_name="server",
            name="suspend_reason",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="server",
            name="suspended_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
