"""The shipped utility template boots the panel's own agent image (/boot/images/, built by
`manage.py build_agent_image`) instead of a placeholder on the internet, and its script calls
the agent's functions. Kernel, initrd, boot arguments and script are each changed only if
they are still the shipped ones; what staff edited is left alone."""

import hashlib
from pathlib import Path

from django.db import migrations

BODIES = Path(__file__).resolve().parents[2] / "templates" / "provisioning" / "os"
# utility.sh as migration 0007 (filtered values) left it.
SHIPPED_SCRIPT = "75033c2577bdd420867dceaee59bc278c07cebed7e5cc758e8d279775e7ba405"
BEFORE = {
    "kernel_url": "http://boot.example.invalid/utility/vmlinuz",
    "initrd_url": "http://boot.example.invalid/utility/initrd.img",
    "boot_args": "ip=dhcp metalpanel.script={{ config_url|ipxe }}",
    "description": (
        "Boots a small Linux that runs the rendered script: reports hardware facts and "
        "wipes the disks. Set the kernel and initrd of your utility image here; it must "
        "fetch metalpanel.script= from its command line and run it."
    ),
}
AFTER = {
    # iPXE fetches these relative to its boot script's URL: from this panel.
    "kernel_url": "/boot/images/vmlinuz",
    "initrd_url": "/boot/images/initrd.gz",
    "boot_args": "console=tty0 console=ttyS0,115200 metalpanel.script={{ config_url|ipxe }}",
    "description": (
        "The panel's agent image (manage.py build_agent_image): reports hardware facts and "
        "wipes the disks, running the rendered script with the agent's functions."
    ),
}


def _swap(apps, old: dict, new: dict, old_script: str, new_script: str) -> None:
    OsTemplate = apps.get_model("provisioning", "OsTemplate")
    for template in OsTemplate.objects.filter(is_utility=True):
        for field, value in old.items():
            if getattr(template, field) == value:
                setattr(template, field, new[field])
        if hashlib.sha256(template.config.encode()).hexdigest() == old_script:
            template.config = (BODIES / new_script).read_text()
        template.save()


def _digest(body: str) -> str:
    return hashlib.sha256((BODIES / body).read_bytes()).hexdigest()


def forwards(apps, schema_editor):
    _swap(apps, BEFORE, AFTER, SHIPPED_SCRIPT, "utility-agent.sh")


def backwards(apps, schema_editor):
    _swap(apps, AFTER, BEFORE, _digest("utility-agent.sh"), "utility.sh")


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0016_consolesession")]
    operations = [migrations.RunPython(forwards, backwards)]
