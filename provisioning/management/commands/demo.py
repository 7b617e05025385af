import json
import os
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from panel import services as people
from provisioning.simlab import demo

SIMLAB_CONTROL_PORT = 16300
DEMO_TRAFFIC_SECONDS = 60
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
            f"  Network:   a switch (SNMP, UDP {demo.SWITCH_BASE_PORT}) and a PDU "
            f"(UDP {demo.PDU_BASE_PORT}), community {demo.SNMP_COMMUNITY}; customers' servers "
            f"run and their traffic graphs fill ({DEMO_TRAFFIC_SECONDS} s slots in the demo). "
            "Suspend one:\n"
            f'             curl -H "Authorization: Token {key}" '
            f"-H 'Content-Type: application/json' "
            f'-d \'{{"reason": "Invoice 1234 unpaid"}}\' {base}/api/v1/servers/1/suspend/\n'
            f"  Boot:      the boot endpoints answer {SIMLAB_BOOT_NETWORK} "
            "(PANEL_BOOT_ALLOWED_CIDRS, for this demo only)\n"
        )
        if seed_only:
            return
        settings.PANEL_BOOT_ALLOWED_CIDRS = [
            *settings.PANEL_BOOT_ALLOWED_CIDRS,
            SIMLAB_BOOT_NETWORK,
        ]
        # Traffic graphs that fill in minutes: one-minute slots, here and in the workers.
        os.environ["PANEL_TRAFFIC_POLL_SECONDS"] = str(DEMO_TRAFFIC_SECONDS)
        settings.PANEL_TRAFFIC_POLL_SECONDS = DEMO_TRAFFIC_SECONDS
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
                    "--switch-port",
                    str(demo.SWITCH_BASE_PORT),
                    "--pdu-port",
                    str(demo.PDU_BASE_PORT),
                    "--snmp-write-community",
                    demo.SNMP_COMMUNITY,
                ]
            ),
            subprocess.Popen([*manage, "qcluster"]),  # noqa: S603
        ]
        _switch_on(demo.sold_machines())
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=15)


def _switch_on(ports: list[int], seconds: float = 30) -> None:
    """The servers customers have are running when the demo starts (simlab's machines start
    off): switched on through simlab's control API once it answers."""
    deadline = time.monotonic() + seconds
    for port in ports:
        request = urllib.request.Request(
            f"http://127.0.0.1:{SIMLAB_CONTROL_PORT}/machines/{port}",
            data=json.dumps({"power": "on"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        while True:
            try:
                urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - our simlab
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise CommandError("simlab did not start; see its output above.") from None
                time.sleep(0.5)
