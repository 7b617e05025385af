"""100 simlab servers reinstalled at once through the API, end to end on this machine.

The panel is served by gunicorn, a real `qcluster` does the work, and every simlab
machine network-boots against the panel over HTTP and runs a simulated installer of
--install-seconds. Prints the total time, then per install the panel's own overhead:
its wall time minus the time spent waiting on the simulated installer (from the
installer fetching its config to its `done`), p50/p95. Checks none was lost or doubled.

    python bench/fleet_install.py [--servers 100] [--install-seconds 5] [--workers 4]

SQLite + the ORM broker by default; with DATABASE_URL (and REDIS_URL) set, on those.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import MANAGE, ROOT, free_port, setup_django, start_simlab, wait_for_http


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--install-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--base-port", type=int, default=31000)
    parser.add_argument(
        "--login",
        choices=("password", "ssh-key"),
        default="password",
        help="What each install sets: a root password (hashed per request) or an SSH key",
    )
    args = parser.parse_args()

    workdir = setup_django()
    from inventory.models import Server

    if Server.objects.exists():
        sys.exit("Give the bench an empty database: it enrols its own simlab servers.")
    port = free_port()
    panel_url = f"http://127.0.0.1:{port}"
    children = {}
    try:
        lab = start_simlab(
            args.servers,
            args.base_port,
            *("--boot-url", panel_url, "--install-seconds", str(args.install_seconds)),
        )
        children["simlab (the simulated machines and BMCs)"] = lab
        children["panel web (gunicorn)"] = subprocess.Popen(
            ["gunicorn", "panel.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(args.web_workers)],
            cwd=ROOT,
            env={**os.environ, "PANEL_BOOT_ALLOWED_CIDRS": "127.0.0.0/8"},  # simlab's machines
            stderr=subprocess.DEVNULL,
        )
        children["panel workers (qcluster)"] = subprocess.Popen(
            [*MANAGE, "qcluster"],
            env={**os.environ, "PANEL_WORKERS": str(args.workers)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(f"{panel_url}/boot/ipxe")
        time.sleep(3)  # let the cluster start, so its start-up is not counted
        before = {name: cpu_seconds(child.pid) for name, child in children.items()}
        run(args, panel_url)
        print("CPU seconds used during the run (2 cores shared by all of it):")
        for name, child in children.items():
            print(f"  {name:<44} {cpu_seconds(child.pid) - before[name]:6.1f} s")
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            child.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, panel_url: str) -> None:
    from django.db import connection
    from django.db.models import Count

    from inventory.models import Server
    from panel import services as people
    from panel.models import AuditEvent, User
    from provisioning.models import BootTicket, Operation, OsTemplate

    admin = User.objects.create_superuser("bench@example.test", "bench-password-1")
    _, key = people.create_api_token(actor=admin, user=admin, name="bench")
    template = OsTemplate.objects.get(name="AlmaLinux 9")
    login = {"password": "Correct-Horse-9"}
    if args.login == "ssh-key":
        ssh_key = people.add_ssh_key(actor=admin, name="bench", public_key=BENCH_KEY)
        login = {"ssh_keys": [ssh_key.pk]}
    servers = list(Server.objects.order_by("pk").values_list("pk", flat=True))

    def install(server_id: int) -> int:
        body = json.dumps({"os_template": template.pk, **login}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{panel_url}/api/v1/servers/{server_id}/install/",
            data=body,
            headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read())["id"]

    print(
        f"{len(servers)} simlab servers, installer {args.install_seconds:g} s, "
        f"{args.web_workers} web + {args.workers} queue workers, {connection.vendor}, "
        f"login by {args.login}"
    )
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(install, servers))
    accepted = time.monotonic() - began
    active = Operation.objects.filter(pk__in=ids, state__in=Operation.ACTIVE_STATES)
    while active.exists() and time.monotonic() - began < 600:
        time.sleep(0.5)
    total = time.monotonic() - began

    ops = Operation.objects.filter(pk__in=ids)
    states = {state: ops.filter(state=state).count() for state in ("succeeded", "failed")}
    tickets = {t.operation_id: t for t in BootTicket.objects.filter(operation_id__in=ids)}
    overheads, walls = [], []
    phases = {name: [] for name in PHASES}
    for op in ops.filter(state="succeeded"):
        ticket = tickets[op.pk]
        wall = (op.finished_at - op.created_at).total_seconds()
        installer = (ticket.finished_at - ticket.config_fetched_at).total_seconds()
        walls.append(wall)
        overheads.append(wall - installer)
        marks = (
            op.created_at,
            op.started_at,
            ticket.booted_at,
            ticket.config_fetched_at,
            ticket.finished_at,
            op.finished_at,
        )
        for name, start, end in zip(PHASES, marks, marks[1:], strict=False):
            phases[name].append((end - start).total_seconds())
    succeeded_audits = AuditEvent.objects.filter(action="operation.succeeded").count()
    installs_per_server = set(
        Operation.objects.filter(kind="install")
        .values("server")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    )
    print(f"202 for all {len(ids)} requests in {accepted:.2f} s")
    print(f"all ended in {total:.2f} s: {states['succeeded']} succeeded, {states['failed']} failed")
    print(
        f"none lost or doubled: {len(set(ids)) == len(servers)} distinct operations, "
        f"installs per server {sorted(installs_per_server)}, "
        f"{succeeded_audits} 'operation.succeeded' audit events"
    )
    print(f"install wall time  p50 {pct(walls, 50):6.2f} s   p95 {pct(walls, 95):6.2f} s")
    print(
        f"panel overhead     p50 {pct(overheads, 50):6.2f} s   p95 {pct(overheads, 95):6.2f} s"
        "   (wall time minus the simulated installer's run)"
    )
    for name, values in phases.items():
        print(f"  {name:<44} p50 {pct(values, 50):6.2f} s   p95 {pct(values, 95):6.2f} s")


BENCH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICdpokNGQ5T6YFJu337PY3C2BxVD+v9XKJm85wv9xS2A bench"
PHASES = (
    "queued, until a worker starts it",
    "boot device + reboot, until iPXE asks",
    "iPXE script, until the installer's config",
    "the simulated installer",
    "installer's done, until the operation ends",
)


def pct(values: list[float], percent: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


if __name__ == "__main__":
    main()
