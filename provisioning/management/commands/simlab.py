import multiprocessing
import signal
import sys

from django.core.management.base import BaseCommand, CommandError

from provisioning.simlab.lab import MAX_BMCS_PER_PROCESS, Lab
from provisioning.simlab.snmpagent import SnmpCredentials


def _run_lab(ports, username, password, machines, control_port, ready):
    """One rack: its BMCs, switch and PDU; sends the agents' UDP ports through `ready`."""
    lab = Lab(ports=ports, username=username, password=password, **machines)
    if control_port:
        lab.serve_control(control_port)
    lab.serve_snmp()
    ready.send((lab.switch.agent.port, lab.pdu.agent.port))
    lab.serve_forever()


def _ports(ports: list[int]) -> str:
    return ", ".join(map(str, ports))


class Command(BaseCommand):
    help = (
        "Run simulated BMCs (pyghmi BMC servers) on UDP ports of a loopback address, one per "
        "server, and "
        "per rack of up to 500 servers an SNMP switch (IF-MIB) and PDU (APC PowerNet MIB)."
    )
    requires_system_checks = []  # a lab needs no project checks, and its first line is "ready"

    def add_arguments(self, parser):
        parser.add_argument("--servers", type=int, required=True, help="How many BMCs")
        parser.add_argument(
            "--base-port", type=int, default=16230, help="UDP port of the first BMC"
        )
        parser.add_argument(
            "--address",
            default="127.0.0.1",
            help="Where the BMCs and agents listen (another loopback address, such as 127.0.0.2, "
            "gives a further 64,000 ports)",
        )
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="password")
        parser.add_argument(
            "--control-port",
            type=int,
            default=0,
            help="HTTP control API port (first lab process; each further one takes the next port)",
        )
        parser.add_argument(
            "--boot-url",
            default="",
            help="The panel the machines' network boot asks (/boot/ipxe); none: no PXE server",
        )
        parser.add_argument(
            "--install-seconds",
            type=float,
            default=3.0,
            help="How long a simulated installer runs",
        )
        parser.add_argument(
            "--switch-port",
            type=int,
            default=0,
            help="UDP port of the first rack's switch agent (each further rack takes the next "
            "port); 0: free ports",
        )
        parser.add_argument(
            "--pdu-port",
            type=int,
            default=0,
            help="UDP port of the first rack's PDU agent, likewise",
        )
        parser.add_argument("--snmp-community", default="public", help="Read-only community")
        parser.add_argument(
            "--snmp-write-community", default="private", help="Read-write community"
        )
        parser.add_argument("--snmp-user", default="simlab", help="SNMPv3 user (SHA + AES)")
        parser.add_argument("--snmp-auth-key", default="simlab-auth-key")
        parser.add_argument("--snmp-priv-key", default="simlab-priv-key")
        parser.add_argument(
            "--enrol",
            action="store_true",
            help="Create Server + Bmc rows for BMCs not yet in the database",
        )

    def handle(
        self,
        *args,
        servers,
        base_port,
        address,
        username,
        password,
        control_port,
        boot_url,
        install_seconds,
        enrol,
        switch_port,
        pdu_port,
        **options,
    ):
        if servers < 1 or not 1024 <= base_port <= 65535 - servers:
            raise CommandError("Give --servers >= 1 and a --base-port that leaves room for them.")
        ports = list(range(base_port, base_port + servers))
        snmp = SnmpCredentials(
            community=options["snmp_community"],
            write_community=options["snmp_write_community"],
            username=options["snmp_user"],
            auth_key=options["snmp_auth_key"],
            priv_key=options["snmp_priv_key"],
        )
        machines = {
            "boot_url": boot_url.rstrip("/"),
            "install_seconds": max(0.0, install_seconds),
            "snmp": snmp,
            "address": address,
        }
        if enrol:
            from provisioning.simlab.enrolment import enrol_lab

            created = enrol_lab(ports=ports, username=username, password=password, address=address)
            self.stdout.write(f"Enrolled {created} new simulated servers.")
        # SIGTERM ends the command through `finally`, so the BMC processes go with it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        chunks = [
            ports[i : i + MAX_BMCS_PER_PROCESS] for i in range(0, len(ports), MAX_BMCS_PER_PROCESS)
        ]
        context = multiprocessing.get_context("fork")
        children, switches, pdus = [], [], []
        for index, chunk in enumerate(chunks):
            ready, ready_in_child = context.Pipe(duplex=False)
            rack = {
                "rack": index,
                "switch_port": switch_port + index if switch_port else 0,
                "pdu_port": pdu_port + index if pdu_port else 0,
            }
            child_control = control_port + index if control_port else 0
            child = context.Process(
                target=_run_lab,
                args=(chunk, username, password, machines | rack, child_control, ready_in_child),
                daemon=True,
            )
            child.start()
            if not ready.poll(timeout=60):
                raise CommandError("A simulated BMC process did not start.")
            agents = ready.recv()
            switches.append(agents[0])
            pdus.append(agents[1])
            children.append(child)
        control = f", control API on 127.0.0.1:{control_port}" if control_port else ""
        self.stdout.write(
            f"simlab ready: {servers} BMCs on {address} UDP {ports[0]}-{ports[-1]}, "
            f"switches on UDP {_ports(switches)}, PDUs on UDP {_ports(pdus)}{control}"
        )
        sys.stdout.flush()
        try:
            for child in children:
                child.join()
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                child.terminate()
