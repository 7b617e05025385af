import json
import os
import signal
import socket
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from panel import services as people
from provisioning.simlab import demo
from provisioning.simlab.ports import Listener, taken
from provisioning.simlab.processes import ChildExited, Children, StopRequested

DEMO_TRAFFIC_SECONDS = 60
DEMO_OS = "Debian 12"  # what the customers' running servers boot from their disks
# simlab's machines boot from loopback addresses (their own in 127.1.0.0/16 on Linux).
SIMLAB_BOOT_NETWORK = "127.0.0.0/8"
START_SECONDS = 60
# Each port: option, environment variable, default, protocol, what listens there.
PORTS = [
    ("--port", "PANEL_DEMO_PORT", 8000, "tcp", "the web panel"),
    ("--bmc-port", "PANEL_DEMO_BMC_PORT", demo.BMC_BASE_PORT, "udp", "simlab's BMCs"),
    ("--control-port", "PANEL_DEMO_CONTROL_PORT", demo.CONTROL_BASE_PORT, "tcp", "simlab's API"),
    ("--switch-port", "PANEL_DEMO_SWITCH_PORT", demo.SWITCH_BASE_PORT, "udp", "the SNMP switch"),
    ("--pdu-port", "PANEL_DEMO_PDU_PORT", demo.PDU_BASE_PORT, "udp", "the SNMP PDU"),
]


class Command(BaseCommand):
    help = (
        "Set up the database, seed a demo datacenter and run it: the web panel (daphne), a "
        "django-q2 worker cluster and simlab (one simulated BMC per demo server), without DEBUG "
        "and on a secret key of its own kept next to the database. Every port has an option "
        "and an environment variable; Ctrl-C or SIGTERM stops all of it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            default=os.environ.get("PANEL_DEMO_HOST", "127.0.0.1"),
            help="Address the panel listens on (PANEL_DEMO_HOST; default 127.0.0.1), which it "
            "then answers to unless ALLOWED_HOSTS is set",
        )
        for option, variable, default, protocol, what in PORTS:
            parser.add_argument(
                option,
                type=int,
                # argparse converts a string default, so a bad variable is a one-line error.
                default=os.environ.get(variable, str(default)),
                help=f"{protocol.upper()} port of {what} ({variable}; default {default})"
                + (", the first of one a server" if option == "--bmc-port" else ""),
            )
        parser.add_argument("--servers", type=int, default=12, help="Demo servers to enrol")
        parser.add_argument("--seed-only", action="store_true", help="Seed, print, do not serve")

    def handle(self, *args, host, servers, seed_only, **options):
        if servers < 1:
            raise CommandError("Give --servers 1 or more.")
        ports = demo.LabPorts(
            bmc=options["bmc_port"],
            control=options["control_port"],
            switch=options["switch_port"],
            pdu=options["pdu_port"],
        )
        if not seed_only:
            problem = taken(_listeners(host, options["port"], ports, servers))
            if problem:
                raise CommandError(problem)
        call_command("migrate", interactive=False, verbosity=0)
        admin = demo.seed(servers=servers, ports=ports)
        _, key = people.create_api_token(actor=admin, user=admin, name="demo")
        base = f"http://{_url_host(host)}:{options['port']}"
        if seed_only:
            self.stdout.write(_banner(base, key, ports, servers))
            return
        children = Children()
        signal.signal(signal.SIGINT, children.ask_to_stop)
        signal.signal(signal.SIGTERM, children.ask_to_stop)
        try:
            _start(children, host, options["port"], base, ports, servers)
            _wait_until_serving(children, host, options["port"])
            _switch_on(children, ports, demo.sold_machines())
            self.stdout.write(_banner(base, key, ports, servers))
            self.stdout.flush()
            while True:
                children.check()
                children.pause(0.5)
        except ChildExited as exc:
            raise CommandError(str(exc)) from None
        except StopRequested:
            self.stdout.write("Stopping the demo.")
        finally:
            children.stop()  # a second Ctrl-C only sets the flag again: it cannot cut this short


def _listeners(host: str, web_port: int, ports: demo.LabPorts, servers: int) -> list[Listener]:
    racks = demo.racks(servers)
    counts = {"--port": 1, "--bmc-port": servers}
    firsts = {
        "--port": web_port,
        "--bmc-port": ports.bmc,
        "--control-port": ports.control,
        "--switch-port": ports.switch,
        "--pdu-port": ports.pdu,
    }
    return [
        Listener(
            what=what,
            protocol=protocol,
            host=host if option == "--port" else "127.0.0.1",
            first=firsts[option],
            count=counts.get(option, racks),
            option=option,
            variable=variable,
        )
        for option, variable, _, protocol, what in PORTS
    ]


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - only to name the URL printed
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _start(children: Children, host, web_port, base, ports: demo.LabPorts, servers) -> None:
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = os.environ | {
        # The boot endpoints answer simlab's machines, for this demo only.
        "PANEL_BOOT_ALLOWED_CIDRS": ",".join(
            [*settings.PANEL_BOOT_ALLOWED_CIDRS, SIMLAB_BOOT_NETWORK]
        ),
        # Traffic graphs that fill in minutes: one-minute slots, in the panel and the workers.
        "PANEL_TRAFFIC_POLL_SECONDS": str(DEMO_TRAFFIC_SECONDS),
    }
    if "ALLOWED_HOSTS" not in os.environ:
        # The panel answers to the address it was given to listen on, as well as localhost.
        env["ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, _url_host(host)])
    children.start(
        "simlab",
        [
            *manage,
            "simlab",
            f"--servers={servers}",
            f"--base-port={ports.bmc}",
            f"--control-port={ports.control}",
            f"--boot-url={base}",
            f"--switch-port={ports.switch}",
            f"--pdu-port={ports.pdu}",
            f"--snmp-write-community={demo.SNMP_COMMUNITY}",
        ],
        env,
    )
    children.start("the worker cluster (qcluster)", [*manage, "qcluster"], env)
    # daphne serves the pages and the console's WebSockets on one port (a deployment puts
    # gunicorn and daphne behind its proxy: README, Deployment).
    children.start(
        "the web panel (daphne)",
        [
            *(sys.executable, "-m", "daphne", f"--bind={host}", f"--port={web_port}"),
            *("--access-log=-", "panel.asgi:application"),
        ],
        env,
    )


def _wait_until_serving(children: Children, host: str, port: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        children.check()
        try:
            socket.create_connection((host.strip("[]"), port), timeout=1).close()
            return
        except OSError:
            children.pause(0.2)
    raise CommandError(f"The web panel did not start on port {port}; see its output above.")


def _switch_on(children: Children, ports: demo.LabPorts, machines: list[tuple[int, str]]) -> None:
    """The servers customers have are running when the demo starts (simlab's machines start
    off): switched on through simlab's control API once it answers, they boot a system from
    their disks, so their consoles show its login prompt."""
    deadline = time.monotonic() + START_SECONDS
    for port, name in machines:
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports.control}/machines/{port}",
            data=json.dumps({"os": DEMO_OS, "hostname": name, "boot": True}).encode(),
            headers={"Content-Type": "application/json"},
        )
        while True:
            children.check()
            try:
                urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - our simlab
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise CommandError("simlab did not start; see its output above.") from None
                children.pause(0.5)


def _banner(base: str, key: str, ports: demo.LabPorts, servers: int) -> str:
    auth = '-H "Authorization: Token $TOKEN"'
    json_body = "-H 'Content-Type: application/json'"
    accounts = "".join(
        f"  Customer:  {email} / {password}\n" for email, _, password in demo.CUSTOMERS
    )
    return (
        "\nMetalpanel demo datacenter is ready.\n"
        f"  Portal:    {base}/   (customers)\n"
        f"  Admin:     {base}/admin/   (staff; dashboard at {base}/admin/dashboard/)\n"
        f"  Staff:     {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}\n"
        f"{accounts}"
        f"  API docs:  {base}/api/docs/\n"
        "  Try the API, one line after another (a staff token made for this run):\n"
        f"    TOKEN={key}\n"
        f"    curl -sS {auth} {base}/api/v1/servers/\n"
        f'    curl -sS {auth} {json_body} -d \'{{"action": "off"}}\' '
        f"{base}/api/v1/servers/1/power/\n"
        f"    curl -sS {auth} '{base}/api/v1/operations/?server=1'\n"
        f"    curl -sS {auth} {base}/api/v1/servers/1/power/\n"
        f'    curl -sS {auth} {json_body} -d \'{{"action": "on"}}\' '
        f"{base}/api/v1/servers/1/power/\n"
        f"    curl -sS {auth} {json_body} "
        f'-d \'{{"os_template": 1, "password": "Correct-Horse-9"}}\' '
        f"{base}/api/v1/servers/2/install/\n"
        f"    curl -sS {auth} '{base}/api/v1/operations/?server=2'\n"
        f"    curl -sS {auth} {base}/metrics\n"
        f"    curl -sS {auth} -X POST {base}/api/v1/servers/1/console/   "
        "# its url: the serial console in a browser\n"
        f"  simlab:    {servers} BMCs on 127.0.0.1 UDP {ports.bmc_port(0)}-"
        f"{ports.bmc_port(servers - 1)}, machines at "
        f"http://127.0.0.1:{ports.control}/machines\n"
        f"  Network:   a switch (SNMP, UDP {ports.switch}) and a PDU (UDP {ports.pdu}), "
        f"community {demo.SNMP_COMMUNITY}; customers' servers run and their traffic graphs "
        f"fill ({DEMO_TRAFFIC_SECONDS} s slots in the demo).\n"
        f"  Boot:      the boot endpoints answer {SIMLAB_BOOT_NETWORK} "
        "(PANEL_BOOT_ALLOWED_CIDRS, for this demo only)\n"
        "  Stop:      Ctrl-C\n"
    )
