import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from panel import services as people
from provisioning.simlab import demo

SIMLAB_CONTROL_PORT = 16300
# simlab's machines boot from loopback addresses (their own in 127.1.0.0/16 on Linux).
SIMLAB_BOOT_NETWORK = "127.0.0.0/8"


class Command(BaseCommand):
    help = (
        "Set up the database, seed a demo datacenter and run it: the web panel, a django-q2 "
        "worker cluster and simlab (one simulated BMC per demo server)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Where to serve the panel")
        parser.add_argument("--servers", type=int, default=12, help="Demo servers to enrol")
        parser.add_argument("--seed-only", action="store_true", help="Seed, print, do not serve")

    def handle(self, *args, addrport, servers, seed_only, **options):
        call_command("migrate", interactive=False, verbosity=0)
        admin = demo.seed(servers=servers)
        _, key = people.create_api_token(actor=admin, user=admin, name="demo")
        base = f"http://{addrport}"
        self.stdout.write(
            "\nMetalpanel demo datacenter is ready.\n"
            f"  Staff:     {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}   {base}/admin/\n"
            + "".join(
                f"  Customer:  {email} / {password}\n" for email, _, password in demo.CUSTOMERS
            )
            + f"  API docs:  {base}/api/docs/\n"
            f"  API token: {key}\n"
            f'  Try:       curl -H "Authorization: Token {key}" {base}/api/v1/servers/\n'
            f'             curl -H "Authorization: Token {key}" '
            f"-H 'Content-Type: application/json' "
            f'-d \'{{"action": "on"}}\' {base}/api/v1/servers/1/power/\n'
            f'  Reinstall: curl -H "Authorization: Token {key}" '
            f"-H 'Content-Type: application/json' "
            f'-d \'{{"os_template": 1, "password": "Correct-Horse-9"}}\' '
            f"{base}/api/v1/servers/1/install/\n"
            f"  simlab:    {servers} BMCs on 127.0.0.1 UDP {demo.demo_bmc_port(0)}-"
            f"{demo.demo_bmc_port(servers - 1)}, machines at "
            f"http://127.0.0.1:{SIMLAB_CONTROL_PORT}/machines\n"
            f"  Boot:      the boot endpoints answer {SIMLAB_BOOT_NETWORK} "
            "(PANEL_BOOT_ALLOWED_CIDRS, for this demo only)\n"
        )
        if seed_only:
            return
        settings.PANEL_BOOT_ALLOWED_CIDRS = [
            *settings.PANEL_BOOT_ALLOWED_CIDRS,
            SIMLAB_BOOT_NETWORK,
        ]
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen(  # noqa: S603 - our own manage.py
                [
                    *manage,
                    "simlab",
                    "--servers",
                    str(servers),
                    "--base-port",
                    str(demo.demo_bmc_port(0)),
                    "--control-port",
                    str(SIMLAB_CONTROL_PORT),
                    "--boot-url",
                    base,
                ]
            ),
            subprocess.Popen([*manage, "qcluster"]),  # noqa: S603
        ]
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=15)
