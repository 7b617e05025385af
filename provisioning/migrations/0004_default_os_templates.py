"""The OS templates a new panel ships with; staff edit them in the admin afterwards."""

from pathlib import Path

from django.db import migrations

BODIES = Path(__file__).resolve().parents[2] / "templates" / "provisioning" / "os"
ALMA = "https://repo.almalinux.org/almalinux/9"
ROCKY = "https://download.rockylinux.org/pub/rocky/9"
EL_ARGS = "inst.ks={{ config_url }} inst.repo={{ os.mirror }}/BaseOS/x86_64/os/ ip=dhcp console=tty0 console=ttyS0,115200"
DEBIAN = "https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64"
UBUNTU = "https://releases.ubuntu.com/24.04"

DEFAULTS = [
    {
        "name": "AlmaLinux 9",
        "family": "kickstart",
        "description": "AlmaLinux 9, minimal server with SSH, installed over the network by kickstart.",
        "mirror_url": ALMA,
        "kernel_url": f"{ALMA}/BaseOS/x86_64/os/images/pxeboot/vmlinuz",
        "initrd_url": f"{ALMA}/BaseOS/x86_64/os/images/pxeboot/initrd.img",
        "boot_args": EL_ARGS,
        "body": "el9.ks",
        "tags": ["linux", "rhel"],
    },
    {
        "name": "Rocky Linux 9",
        "family": "kickstart",
        "description": "Rocky Linux 9, minimal server with SSH, installed over the network by kickstart.",
        "mirror_url": ROCKY,
        "kernel_url": f"{ROCKY}/BaseOS/x86_64/os/images/pxeboot/vmlinuz",
        "initrd_url": f"{ROCKY}/BaseOS/x86_64/os/images/pxeboot/initrd.img",
        "boot_args": EL_ARGS,
        "body": "el9.ks",
        "tags": ["linux", "rhel"],
    },
    {
        "name": "Debian 12",
        "family": "preseed",
        "description": "Debian 12 (bookworm), standard system with SSH server, by preseed.",
        "mirror_url": "https://deb.debian.org/debian",
        "kernel_url": f"{DEBIAN}/linux",
        "initrd_url": f"{DEBIAN}/initrd.gz",
        "boot_args": "auto=true priority=critical url={{ config_url }} interface=auto netcfg/dhcp_timeout=60",
        "body": "debian-12.preseed",
        "tags": ["linux", "debian"],
    },
    {
        "name": "Ubuntu 24.04 LTS",
        "family": "autoinstall",
        "description": "Ubuntu Server 24.04 LTS with SSH, by autoinstall (cloud-init user-data).",
        "mirror_url": "http://archive.ubuntu.com/ubuntu",
        "kernel_url": f"{UBUNTU}/netboot/amd64/linux",
        "initrd_url": f"{UBUNTU}/netboot/amd64/initrd",
        "boot_args": (
            f"ip=dhcp url={UBUNTU}/ubuntu-24.04.3-live-server-amd64.iso autoinstall "
            "ds=nocloud-net;s={{ config_url }}/"
        ),
        "body": "ubuntu-24.04.yaml",
        "tags": ["linux", "ubuntu"],
    },
    {
        "name": "Utility image (diagnostics and wipe)",
        "family": "cloud-init",
        "description": (
            "Boots a small Linux that runs the rendered script: reports hardware facts and "
            "wipes the disks. Set the kernel and initrd of your utility image here; it must "
            "fetch metalpanel.script= from its command line and run it."
        ),
        "kernel_url": "http://boot.example.invalid/utility/vmlinuz",
        "initrd_url": "http://boot.example.invalid/utility/initrd.img",
        "boot_args": "ip=dhcp metalpanel.script={{ config_url }}",
        "body": "utility.sh",
        "tags": ["utility"],
        "is_public": False,
        "is_utility": True,
    },
]


def create_defaults(apps, schema_editor):
    OsTemplate = apps.get_model("provisioning", "OsTemplate")
    for default in DEFAULTS:
        fields = dict(default)
        fields["config"] = (BODIES / fields.pop("body")).read_text()
        OsTemplate.objects.get_or_create(name=fields.pop("name"), defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0003_os_templates_and_boot_tickets")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
