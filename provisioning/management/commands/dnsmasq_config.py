from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from provisioning import dnsmasq


class Command(BaseCommand):
    help = (
        "Print a dnsmasq configuration for the boot network: host reservations from IPAM and "
        "the iPXE chain to the panel's /boot/ipxe."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--boot-url",
            default=settings.PANEL_BOOT_URL,
            help="The panel as machines on the boot network reach it (default: PANEL_BOOT_URL)",
        )
        parser.add_argument("--interface", default="", help="Serve DHCP on this interface only")
        parser.add_argument(
            "--tftp-root", default="/usr/lib/ipxe", help="Folder holding undionly.kpxe, ipxe.efi"
        )

    def handle(self, *args, boot_url, interface, tftp_root, **options):
        if not boot_url:
            raise CommandError("Give --boot-url, or set PANEL_BOOT_URL.")
        try:
            self.stdout.write(
                dnsmasq.render(boot_url=boot_url, interface=interface, tftp_root=tftp_root),
                ending="",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
