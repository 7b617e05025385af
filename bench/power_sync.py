"""Power-state sync at fleet scale: one round of the split sweep, read by a real `qcluster`.

Seeds one server per simlab BMC (simlab processes of up to 16,000 BMCs, each on its own
loopback address, their ports below Linux's ephemeral range), then for each worker count
starts `manage.py qcluster` with that many workers, plans a round as the schedule does and
times it from planning to the last chunk's record (what /metrics shows): cold (first contact,
the cipher suite probed) and warm (suite known). Prints a table with the CPU the cluster
and the labs used, and each worker count's speed-up over the first.

SQLite in a temporary folder and django-q2's ORM broker by default; `--database-url
postgres://...` creates and drops that database, `--redis-url` makes Redis the broker.

    python bench/power_sync.py [--servers 10000] [--workers 1 2] [--chunk 250]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_power] [--redis-url URL]
"""

import argparse
import os
import subprocess
import time

from benchlib import MANAGE, bench_database, database_version

BMCS_PER_ADDRESS = 16000
FIRST_PORT = 12000  # ports from here to 27,999: below the ephemeral range clients bind
BATCH = 2000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk", type=int, help="PANEL_POWER_SYNC_CHUNK (default: the panel's)")
    parser.add_argument("--first-address", default="127.0.0.2", help="first lab's address")
    parser.add_argument("--database-url", help="a PostgreSQL database to create and drop")
    parser.add_argument("--redis-url", help="the broker (default: the database)")
    args = parser.parse_args()

    if args.chunk:
        os.environ["PANEL_POWER_SYNC_CHUNK"] = str(args.chunk)
    with bench_database(args.database_url, redis_url=args.redis_url):
        from django.conf import settings

        labs = []
        try:
            began = time.monotonic()
            labs = start_labs(args.servers, args.first_address)
            print(
                f"{database_version()}, broker: {'Redis' if args.redis_url else 'the database'}; "
                f"{args.servers} simlab BMCs in {len(labs)} lab(s) ready in "
                f"{time.monotonic() - began:.0f} s; chunks of {settings.PANEL_POWER_SYNC_CHUNK} "
                f"BMCs at most, {settings.PANEL_POWER_SYNC_CONCURRENCY} read at once in each"
            )
            rows = [row for workers in args.workers for row in rounds(workers, labs)]
            print_table(rows)
        finally:
            for lab in labs:
                lab.terminate()
            for lab in labs:
                lab.wait(timeout=60)


def start_labs(servers: int, first_address: str) -> list[subprocess.Popen]:
    """simlab processes serving `servers` BMCs, and a server enrolled (in bulk) for each."""
    import ipaddress

    labs = []
    for index, first in enumerate(range(0, servers, BMCS_PER_ADDRESS)):
        count = min(BMCS_PER_ADDRESS, servers - first)
        address = str(ipaddress.IPv4Address(first_address) + index)
        options = ["--servers", str(count), "--address", address, "--base-port", str(FIRST_PORT)]
        lab = subprocess.Popen(
            [*MANAGE, "simlab", *options],
            stdout=subprocess.PIPE,
            text=True,
        )
        labs.append(lab)
        seed(address, range(FIRST_PORT, FIRST_PORT + count), first)
    for lab in labs:
        while "simlab ready" not in (lab.stdout.readline() or "simlab ready"):
            pass
        if lab.poll() is not None:
            raise SystemExit("A simlab process did not start.")
    return labs


def seed(address: str, ports: range, first: int) -> None:
    from inventory.models import Bmc, HardwareProfile, Server
    from panel import encryption

    profile, _ = HardwareProfile.objects.get_or_create(
        name="bench-E-2236-32Gb", defaults={"cpu_cores": 6, "ram_gb": 32, "disk_size_gb": 480}
    )
    password = encryption.encrypt("password")
    for start in range(0, len(ports), BATCH):
        batch = ports[start : start + BATCH]
        servers = Server.objects.bulk_create(
            Server(name=f"sim-{first + n:06d}", profile=profile)
            for n in range(start, start + len(batch))
        )
        Bmc.objects.bulk_create(
            Bmc(
                server=server,
                address=address,
                port=port,
                username="admin",
                password_encrypted=password,
            )
            for server, port in zip(servers, batch, strict=True)
        )


def rounds(workers: int, labs: list[subprocess.Popen]) -> list[dict]:
    """A cold round and a warm one, read by a cluster of `workers` worker processes."""
    from django_q.models import Schedule

    from inventory.models import Bmc

    Schedule.objects.all().delete()  # only the bench plans rounds
    Bmc.objects.update(
        next_poll_at=None, cipher_suite=None, reachable=None, power_state_read_at=None
    )
    cluster = subprocess.Popen(
        [*MANAGE, "qcluster"],
        env={**os.environ, "PANEL_WORKERS": str(workers), "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(3 + workers)  # the cluster's start-up is not the sweep's
        rows = []
        for kind in ("cold", "warm"):
            Bmc.objects.update(next_poll_at=None)
            rows.append({"workers": workers, "round": kind, **timed_round(cluster, labs)})
        return rows
    finally:
        cluster.terminate()
        cluster.wait(timeout=60)


def timed_round(cluster: subprocess.Popen, labs: list[subprocess.Popen]) -> dict:
    from provisioning import services
    from provisioning.models import SweepRecord

    panel_cpu, lab_cpu = cpu_seconds([cluster]), cpu_seconds(labs)
    round_ = services.sync_power_states()
    finished = SweepRecord.objects.filter(kind="power", finished_at__gt=round_.began)
    deadline = time.monotonic() + 600
    while not finished.exists():
        if time.monotonic() > deadline or cluster.poll() is not None:
            raise SystemExit("The round did not finish.")
        time.sleep(0.1)
    record = finished.get()
    return {
        "bmcs": len(round_.bmc_ids),
        "chunks": len(round_.chunks()),
        "seconds": record.seconds,
        "polled": record.polled,
        "failed": record.failed,
        "panel_cpu": cpu_seconds([cluster]) - panel_cpu,
        "lab_cpu": cpu_seconds(labs) - lab_cpu,
    }


def cpu_seconds(roots: list[subprocess.Popen]) -> float:
    """User + system CPU of these processes and all their descendants alive now (/proc)."""
    stats = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or one that ended meanwhile
        stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted, total = {root.pid for root in roots}, 0
    while wanted:
        total += sum(stats[pid][1] for pid in wanted if pid in stats)
        wanted = {pid for pid, (parent, _) in stats.items() if parent in wanted}
    return total / CLOCK_TICKS


def print_table(rows: list[dict]) -> None:
    base = {row["round"]: row["seconds"] for row in rows if row["workers"] == rows[0]["workers"]}
    print()
    print(
        "| workers | round | BMCs | chunks | seconds | BMCs/s | failed | speed-up "
        "| panel CPU s (ms/BMC) | simlab CPU s (ms/BMC) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        polled = max(row["polled"], 1)
        print(
            f"| {row['workers']} | {row['round']} | {row['polled']} | {row['chunks']} "
            f"| {row['seconds']:.1f} | {row['polled'] / row['seconds']:,.0f} | {row['failed']} "
            f"| {base[row['round']] / row['seconds']:.2f}x "
            f"| {row['panel_cpu']:.1f} ({1000 * row['panel_cpu'] / polled:.2f}) "
            f"| {row['lab_cpu']:.1f} ({1000 * row['lab_cpu'] / polled:.2f}) |"
        )


if __name__ == "__main__":
    main()
