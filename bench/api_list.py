"""The lists a billing system or a customer reads, timed from outside at fleet scale.

Seeds a fleet with bulk inserts (20 configurations; half the servers owned by 20 customers; a
third with a main IPv4; a BMC each; as many finished operations as servers, at least 10,000,
and 1 % of servers busy with a queued one; 1 % changed since a billing system's last sync;
10,000 audit events), serves the panel with
gunicorn (2 workers) on a free loopback port and, for every list, prints the median and p95
over `--requests` sequential requests (after 2 warm-up requests; fewer, at least one, for a
list that has taken a minute already) and the queries one request
makes (counted in this process with Django's test client, on the same database).

SQLite in a temporary folder by default; `--postgres` (or `--database-url postgres://...`)
creates a throwaway PostgreSQL database and drops it at the end. On a shared machine the
figures are noisy: compare medians of runs made under the same load.

    python bench/api_list.py [--servers 10000] [--requests 30] [--postgres]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_api_list]
"""

import argparse
import base64
import ipaddress
import statistics
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlencode

from benchlib import bench_database, database_version, gunicorn

PROFILES = 20
CUSTOMERS = 20
AUDIT_EVENTS = 10_000
BATCH = 5000
GIVE_UP_SECONDS = 60
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/bench_api_list"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per list")
    parser.add_argument("--postgres", action="store_true", help=f"on {POSTGRES_URL}")
    parser.add_argument("--database-url", help="a PostgreSQL database to create and drop")
    args = parser.parse_args()

    with bench_database(args.database_url or (POSTGRES_URL if args.postgres else None)):
        print(f"{database_version()}, {args.servers:,} servers")
        began = time.monotonic()
        fleet = seed(args.servers)
        print(f"seeded in {time.monotonic() - began:.0f} s")
        measure(fleet, args.requests)


def seed(count: int) -> dict:
    """The fleet, in bulk; returns what the requests name (token, session, a server...)."""
    from django.db import connection, transaction
    from django.db.models import F
    from django.test import Client
    from django.utils import timezone

    from inventory.models import (
        Bmc,
        HardwareProfile,
        IpAddress,
        IpPool,
        Location,
        Network,
        Rack,
        Server,
    )
    from panel import encryption
    from panel.models import AuditEvent, User
    from panel.services import create_api_token
    from provisioning.models import Operation

    now = timezone.now()
    with transaction.atomic():
        admin = User.objects.create_user("bench-admin@example.com", "x" * 16, role="admin")
        customers = User.objects.bulk_create(
            User(email=f"customer{n:02d}@example.com", full_name=f"Customer {n}")
            for n in range(CUSTOMERS)
        )
        profiles = HardwareProfile.objects.bulk_create(
            HardwareProfile(
                name=f"profile-{n:02d}", cpu="Xeon", ram_gb=64, disk_size_gb=960, cpu_cores=8
            )
            for n in range(PROFILES)
        )
        locations = Location.objects.bulk_create(Location(name=f"dc{n}") for n in range(4))
        racks = Rack.objects.bulk_create(
            Rack(location=locations[n % 4], name=f"r{n:05d}", size_u=42)
            for n in range(-(-count // 40))
        )
        network = Network.objects.create(name="public", cidr="100.64.0.0/10", family=4)
        pool = IpPool.objects.create(
            network=network,
            name="public",
            first_address="100.64.0.1",
            last_address="100.127.255.254",
        )
        states = ["maintenance"] * 5 + ["faulty"] * 3 + ["retired"] * 2 + ["ready"] * 90
        for first in range(0, count, BATCH):
            numbers = range(first, min(first + BATCH, count))
            servers = Server.objects.bulk_create(
                Server(
                    name=f"srv-{n:06d}",
                    profile=profiles[n % PROFILES],
                    rack=racks[n // 40],
                    unit=n % 40 + 1,
                    mac=_mac(n),
                    serial=f"SN{n:08d}",
                    owner=customers[n // 2 % CUSTOMERS] if n % 2 else None,
                    owner_since=now if n % 2 else None,
                    state=states[n % 100],
                    suspended=n % 2 == 1 and n % 50 == 1,
                )
                for n in numbers
            )
            password = encryption.encrypt("password")
            Bmc.objects.bulk_create(
                Bmc(
                    server=server,
                    address=str(ipaddress.IPv4Address("10.0.0.0") + n),
                    username="admin",
                    password_encrypted=password,
                    power_state="on" if n % 3 else "off",
                    reachable=n % 100 != 7,
                )
                for n, server in zip(numbers, servers, strict=True)
            )
            IpAddress.objects.bulk_create(
                IpAddress(
                    address=str(ipaddress.IPv4Address("100.64.0.1") + n),
                    family=4,
                    pool=pool,
                    server=server,
                    is_main=True,
                )
                for n, server in zip(numbers, servers, strict=True)
                if n % 3 == 0
            )
            Operation.objects.bulk_create(
                Operation(
                    server=server,
                    kind="power_cycle",
                    state="queued" if n % 100 == 42 else "succeeded",
                    requested_by=admin,
                    created_at=now - timedelta(seconds=count - n),
                )
                for n, server in zip(numbers, servers, strict=True)
            )
        servers = list(Server.objects.order_by("pk").values_list("pk", flat=True)[:10_000])
        Operation.objects.bulk_create(
            (
                Operation(server_id=pk, kind="power_on", state="succeeded", requested_by=admin)
                for pk in servers[: max(0, 10_000 - count)]
            ),
            batch_size=BATCH,
        )
        AuditEvent.objects.bulk_create(
            (
                AuditEvent(
                    actor=admin,
                    actor_email=admin.email,
                    action="server.assign_owner",
                    target_type="server",
                    target_id=str(servers[n % len(servers)]),
                    target_repr=f"srv-{n % count:06d}",
                )
                for n in range(AUDIT_EVENTS)
            ),
            batch_size=BATCH,
        )
        # One server in a hundred changed since a billing system's last sync.
        changed = now + timedelta(minutes=1)
        Server.objects.alias(n=F("pk") % 100).filter(n=0).update(updated_at=changed)
        _, key = create_api_token(actor=None, user=admin, name="bench")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    portal = Client()
    portal.force_login(customers[0])
    middle = Server.objects.order_by("pk").values_list("pk", flat=True)[count // 2]
    return {
        "count": count,
        "token": key,
        "session": portal.cookies["sessionid"].value,
        "customer": customers[1].pk,
        "location": locations[2].pk,
        "middle_id": middle,
        "ip": str(ipaddress.IPv4Address("100.64.0.1") + count // 3 * 3),
        "mac": _mac(count // 2),
        "last_sync": (changed - timedelta(seconds=30)).isoformat(),
    }


def endpoints(fleet: dict) -> list[tuple[str, str, str]]:
    """(label, path, who): who is `token` (staff API token) or `session` (a customer)."""
    deepest = min(500, -(-fleet["count"] // 100))
    position = base64.b64encode(urlencode({"p": fleet["middle_id"]}).encode()).decode()
    servers = "/api/v1/servers/?page_size=100"
    return [
        ("servers, first page", servers, "token"),
        (f"servers, page {deepest}", f"{servers}&page={deepest}", "token"),
        ("servers, cursor mid-fleet", f"{servers}&cursor={position}", "token"),
        ("servers ?configuration=", f"{servers}&configuration=profile-07", "token"),
        ("servers ?free=true", f"{servers}&free=true", "token"),
        ("servers ?owner=", f"{servers}&owner={fleet['customer']}", "token"),
        ("servers ?location=", f"{servers}&location={fleet['location']}", "token"),
        ("servers ?state=maintenance", f"{servers}&state=maintenance", "token"),
        ("servers ?search=<name prefix>", f"{servers}&search=srv-00042", "token"),
        ("servers ?ip=", f"{servers}&ip={fleet['ip']}", "token"),
        ("servers ?mac=", f"{servers}&mac={fleet['mac']}", "token"),
        (
            "servers ?updated_since=&cursor=",
            f"{servers}&{urlencode({'updated_since': fleet['last_sync']})}&cursor=",
            "token",
        ),
        ("configurations", "/api/v1/configurations/", "token"),
        ("ips", "/api/v1/ips/", "token"),
        ("operations", "/api/v1/operations/", "token"),
        ("users", "/api/v1/users/", "token"),
        ("audit-events", "/api/v1/audit-events/", "token"),
        ("portal server list (customer)", "/servers/", "session"),
        ("DCI server?limit=0,100", "/api/dci/v3/server?limit=0,100", "token"),
    ]


def measure(fleet: dict, requests: int, lists: list[tuple[str, str, str]] | None = None) -> None:
    """Time `lists` (label, path, who), by default every list in `endpoints`."""
    with gunicorn(workers=2) as base:
        print(f"\n{'list':34} {'HTTP':>4} {'n':>3} {'median ms':>9} {'p95 ms':>7} {'queries':>7}")
        for label, path, who in lists or endpoints(fleet):
            status, seconds = _timed(f"{base}{path}", fleet, who, requests)
            p95 = statistics.quantiles(seconds, n=20)[-1] if len(seconds) > 1 else seconds[0]
            median = statistics.median(seconds)
            print(
                f"{label:34} {status:>4} {len(seconds):>3} {median * 1000:9.1f} "
                f"{p95 * 1000:7.1f} {_queries(path, fleet, who):>7}"
            )


def _headers(fleet: dict, who: str) -> dict:
    if who == "session":
        return {"Cookie": f"sessionid={fleet['session']}"}
    return {"Authorization": f"Token {fleet['token']}"}


def _timed(url: str, fleet: dict, who: str, requests: int) -> tuple[int, list[float]]:
    seconds, status, began_all = [], 0, time.monotonic()
    for number in range(requests + 2):
        if seconds and time.monotonic() - began_all > GIVE_UP_SECONDS:
            break  # a list this slow is measured well enough by the requests made
        request = urllib.request.Request(url, headers=_headers(fleet, who))  # noqa: S310
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback
                answer.read()
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        if number >= 2:
            seconds.append(time.perf_counter() - began)
    return status, seconds


def _queries(path: str, fleet: dict, who: str) -> int:
    import logging

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    logging.getLogger("django.request").setLevel(logging.ERROR)  # a refused cursor, expected
    client = Client()
    extra = {}
    if who == "session":
        client.cookies["sessionid"] = fleet["session"]
    else:
        extra["HTTP_AUTHORIZATION"] = f"Token {fleet['token']}"
    with CaptureQueriesContext(connection) as queries:
        client.get(path, **extra)
    return len(queries)


def _mac(number: int) -> str:
    return "52:54:" + ":".join(f"{byte:02x}" for byte in number.to_bytes(4, "big"))


if __name__ == "__main__":
    main()
