"""/metrics at fleet scale: one scrape's time and queries over 100,000 servers and BMCs and
300,000 operations (those of the last hour: about 3,600).

    python bench/metrics.py [--servers 100000] [--operations 300000]

DATABASE_URL set: on that database (it must be empty); otherwise a fresh SQLite file.
"""

import argparse
import shutil
import time
from datetime import timedelta

from benchlib import setup_django

RACK_UNITS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100_000)
    parser.add_argument("--operations", type=int, default=300_000)
    args = parser.parse_args()
    workdir = setup_django()
    try:
        fill(args.servers, args.operations)
        scrape()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fill(count: int, operations: int) -> None:
    from django.db.models import F
    from django.utils import timezone

    from inventory.models import Bmc, HardwareProfile, Location, Rack, Server
    from provisioning.models import Operation

    profile = HardwareProfile.objects.create(
        name="bench", cpu="cpu", cpu_cores=1, ram_gb=1, disk_count=1, disk_size_gb=1
    )
    location = Location.objects.create(name="BENCH")
    racks = Rack.objects.bulk_create(
        Rack(location=location, name=f"R{i}", size_u=RACK_UNITS)
        for i in range(-(-count // RACK_UNITS))
    )
    servers = Server.objects.bulk_create(
        (
            Server(
                name=f"s{i}",
                profile=profile,
                rack=racks[i // RACK_UNITS],
                unit=i % RACK_UNITS + 1,
                serial=f"S{i}",
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    Bmc.objects.bulk_create(
        (
            Bmc(server=server, address="10.0.0.1", port=i + 1, username="u", reachable=i % 7 > 0)
            for i, server in enumerate(servers)
        ),
        batch_size=5000,
    )
    now = timezone.now()
    Operation.objects.bulk_create(
        (
            Operation(
                server=servers[i % count],
                kind="power_on",
                state="succeeded",
                started_at=now - timedelta(minutes=i % 5000, seconds=5),
                finished_at=now - timedelta(minutes=i % 5000),
            )
            for i in range(operations)
        ),
        batch_size=5000,
    )
    Operation.objects.update(updated_at=F("finished_at"))  # bulk_create stamped them all now


def scrape() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from provisioning import metrics

    for _ in range(3):
        began = time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            text = metrics.exposition(metrics.collect())
        print(
            f"scrape: {time.monotonic() - began:.3f} s, {len(queries)} queries, {len(text)} bytes"
        )


if __name__ == "__main__":
    main()
