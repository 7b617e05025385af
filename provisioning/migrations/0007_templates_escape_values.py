"""Shipped OS templates put every context value through its format's filter.

A server name, serial, SSH key, password hash, OS name or URL can no longer add a line,
a kickstart section, a preseed answer or a shell command (`line`, `sh`, `yaml`, `ipxe`;
provisioning.templatetags.installer_formats). Bodies and boot arguments staff have
edited are left as they are: the README lists the filters for them. Not reversible: the
new bodies need the filters, which older code does not have.
"""

import hashlib
import importlib

from django.db import migrations

# SHA-256 of the bodies shipped before the filters: by migration 0004, and the utility
# script as 0006 (utility image wipes only when asked) leaves it.
UNFILTERED = {
    "el9.ks": {"6a0c7d3c398bffa9b5ab648236e3665f0f299be889016aeaa66a77515854a671"},
    "debian-12.preseed": {"11f0433080a4606e22dcf47aa3b002ef43d7d3e1e20282a004093de0cf33c173"},
    "ubuntu-24.04.yaml": {"9d51bfa444220278515f4d9d52261dddc59549a6ff807f2d1c652dd52c008d08"},
    "utility.sh": {
        "9d2fcbb4ba1cffe24456df0c4d9669a22a02079a1d1ef830e6a6628016f2cace",
        "5a244493b2ca2810510ad3a4eafcd97cbd72ab6001e11afe3c03cfcd8f08a469",
    },
}
FILTERED_ARGS = {"{{ config_url }}": "{{ config_url|ipxe }}", "{{ os.mirror }}": "{{ os.mirror|ipxe }}"}


def filtered_boot_args(boot_args):
    for plain, filtered in FILTERED_ARGS.items():
        boot_args = boot_args.replace(plain, filtered)
    return boot_args


def forwards(apps, schema_editor):
    OsTemplate = apps.get_model("provisioning", "OsTemplate")
    shipped = importlib.import_module("provisioning.migrations.0004_default_os_templates")
    for default in shipped.DEFAULTS:
        template = OsTemplate.objects.filter(name=default["name"]).first()
        if template is None:
            continue
        if hashlib.sha256(template.config.encode()).hexdigest() in UNFILTERED[default["body"]]:
            template.config = (shipped.BODIES / default["body"]).read_text()
        if template.boot_args == default["boot_args"]:
            template.boot_args = filtered_boot_args(default["boot_args"])
        template.save(update_fields=["config", "boot_args"])


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0006_utility_image_wipes_only_when_asked")]
    operations = [migrations.RunPython(forwards)]
