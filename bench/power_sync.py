"""Power-state sync at fleet scale, against 1,000 simlab BMCs on this machine.

Prints: one full sweep by the panel (cold: first contact, and warm: cipher suite
known), a plain sequential loop of `ipmitool power status` over the same BMCs, the
ratio, and operations per second through the queue for 200 power-on requests
spread over 200 servers (a real `qcluster`).

    python bench/power_sync.py [--servers 1000] [--requests 200] [--workers 4]
"""

import argparse
import os
import shutil
import subprocess
import time

from benchlib import MANAGE, setup_django, start_simlab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--base-port", type=int, default=30000)
    args = parser.parse_args()

    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    workdir = setup_django()
    lab = start_simlab(args.servers, args.base_port)
    try:
        run(args)
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def run(args) -> None:
    from inventory.models import Bmc, Server
    from panel.models import User
    from provisioning import powersync, services
    from provisioning.models import Operation

    print(f"{Bmc.objects.count()} BMCs enrolled, simlab on UDP {args.base_port}+")
    cold = powersync.sweep()
    print(f"panel sweep, cold (first contact): {cold.seconds:6.2f} s  ({cold.failed} failed)")
    Bmc.objects.update(next_poll_at=None)
    warm = powersync.sweep()
    print(f"panel sweep, warm (suite known):   {warm.seconds:6.2f} s  ({warm.failed} failed)")

    began = time.monotonic()
    failures = 0
    for bmc in Bmc.objects.order_by("port"):
        result = subprocess.run(
            [
                "ipmitool",
                "-I",
                "lanplus",
                "-C",
                "3",
                "-H",
                bmc.address,
                "-p",
                str(bmc.port),
                "-U",
                "admin",
                "-P",
                "password",
                "power",
                "status",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        failures += result.returncode != 0
    loop = time.monotonic() - began
    print(f"sequential ipmitool power status:  {loop:6.2f} s  ({failures} failed)")
    print(f"ratio (ipmitool loop / cold sweep): {loop / cold.seconds:5.1f}x")
    print(f"ratio (ipmitool loop / warm sweep): {loop / warm.seconds:5.1f}x")

    admin = User.objects.create_superuser("bench@example.test", "bench-password-1")
    servers = list(Server.objects.order_by("pk")[: args.requests])
    cluster = subprocess.Popen(
        [*MANAGE, "qcluster"],
        env={**os.environ, "PANEL_WORKERS": str(args.workers)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # let the cluster start, so its start-up is not counted
        began = time.monotonic()
        ids = [services.request_power(actor=admin, server=s, action="on").pk for s in servers]
        pending = Operation.objects.filter(pk__in=ids, state__in=Operation.ACTIVE_STATES)
        while pending.exists() and time.monotonic() - began < 300:
            time.sleep(0.2)
        elapsed = time.monotonic() - began
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
    done = Operation.objects.filter(pk__in=ids, state="succeeded").count()
    print(
        f"{len(ids)} power-on requests over {len(ids)} servers, {args.workers} workers: "
        f"{done} succeeded in {elapsed:.2f} s = {done / elapsed:.1f} operations/s"
    )


if __name__ == "__main__":
    main()
