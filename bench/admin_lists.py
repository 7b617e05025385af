"""The staff's admin lists, timed from outside at provider scale.

Seeds api_list's fleet (100,000 servers by default), then in single INSERT ... SELECT
statements grows it to `--operations` operations (1,000,000; a twentieth failed, some
cancelled, every kind, half requested by staff, the rest by the panel), `--customers` owners
(5,000) sharing the owned servers, and 100,000 webhook deliveries. Serves the panel with
gunicorn (2 workers) and times each admin changelist as a logged-in staff member: median and
p95 of `--requests` sequential requests, and the queries one request makes.

    python bench/admin_lists.py [--servers 100000] [--operations 1000000] [--postgres]
"""

import argparse
import time

from api_list import measure, seed
from benchlib import bench_database, database_version

DELIVERIES = 100_000
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/bench_admin_lists"
# Operations numbered 1..n by a recursive CTE (PostgreSQL and SQLite alike), finished i
# seconds before the seed's `now` (OLDER), which each database spells its own way.
SECONDS_BEFORE = {
    "postgresql": "CAST(%s AS timestamptz) - i * interval '1 second'",
    "sqlite": "strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '-' || i || ' seconds')",
}
OPERATIONS = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
    "INSERT INTO provisioning_operation (server_id, kind, state, step, progress, params, result, "
    "error, requested_by_id, created_at, started_at, finished_at, updated_at, attempts, "
    "lease_owner) SELECT %s + i %% %s, "
    "CASE i %% 5 WHEN 0 THEN 'install' WHEN 1 THEN 'power_on' WHEN 2 THEN 'power_off' "
    "WHEN 3 THEN 'power_cycle' ELSE 'diagnostics' END, "
    "CASE WHEN i %% 20 = 0 THEN 'failed' WHEN i %% 50 = 1 THEN 'cancelled' ELSE 'succeeded' END, "
    "'', 100, '{}', '{}', '', CASE WHEN i %% 2 = 0 THEN %s END, OLDER, OLDER, OLDER, OLDER, 1, '' "
    "FROM n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100_000)
    parser.add_argument("--operations", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per list")
    parser.add_argument("--postgres", action="store_true", help=f"on {POSTGRES_URL}")
    args = parser.parse_args()

    with bench_database(POSTGRES_URL if args.postgres else None):
        print(f"{database_version()}, {args.servers:,} servers, {args.operations:,} operations")
        began = time.monotonic()
        fleet = seed(args.servers)
        grow(args.operations, args.customers)
        print(f"seeded in {time.monotonic() - began:.0f} s")
        fleet = {**fleet, "session": staff_session(), **middle_server(fleet)}
        measure(fleet, args.requests, changelists(fleet))


def grow(operations: int, customers: int) -> None:
    """More operations, owners and webhook deliveries than api_list seeds, in a few statements."""
    from django.db import connection, transaction
    from django.utils import timezone

    from inventory.models import Server
    from panel.models import User
    from provisioning.models import Operation
    from webhooks.models import Delivery, Event, Subscription

    now = timezone.now().isoformat()
    first, last = (
        Server.objects.order_by(order).values_list("pk", flat=True)[0] for order in ("pk", "-pk")
    )
    servers = last - first + 1
    staff = User.objects.get(email="bench-admin@example.com").pk
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            OPERATIONS.replace("OLDER", SECONDS_BEFORE[connection.vendor]),
            [max(0, operations - Operation.objects.count()), first, servers, staff, *[now] * 4],
        )
        User.objects.bulk_create(
            (User(email=f"owner{n:05d}@example.com") for n in range(customers)), batch_size=5000
        )
        owners = User.objects.filter(email__startswith="owner").order_by("pk")
        first_owner = owners.values_list("pk", flat=True)[0]
        cursor.execute(
            "UPDATE inventory_server SET owner_id = %s + id %% %s WHERE owner_id IS NOT NULL",
            [first_owner, customers],
        )
        hook = Subscription(name="billing", url="https://billing.example.com/hooks")
        hook.set_secret("s" * 32)
        hook.save()
        events = Event.objects.bulk_create(
            (Event(type="operation.succeeded", data={"n": n}) for n in range(DELIVERIES)),
            batch_size=5000,
        )
        Delivery.objects.bulk_create(
            (
                Delivery(subscription=hook, event=event, status="delivered", retry_until=now)
                for event in events
            ),
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def staff_session() -> str:
    from django.test import Client

    from panel.models import User

    client = Client()
    client.force_login(User.objects.get(email="bench-admin@example.com"))
    return client.cookies["sessionid"].value


def middle_server(fleet: dict) -> dict:
    """The rack and owner of a server mid-fleet (an owned one), for their filters."""
    from inventory.models import Server

    owned = Server.objects.filter(pk__gte=fleet["middle_id"], owner__isnull=False).order_by("pk")
    return owned.values("rack", "owner")[0]


def changelists(fleet: dict) -> list[tuple[str, str, str]]:
    servers, operations = "/admin/inventory/server/", "/admin/provisioning/operation/"
    return [
        ("admin servers", servers, "session"),
        ("admin servers ?state=maintenance", f"{servers}?state__exact=maintenance", "session"),
        (
            "admin servers, location",
            f"{servers}?rack__location__id__exact={fleet['location']}",
            "session",
        ),
        ("admin servers, owner", f"{servers}?owner={fleet['owner']}", "session"),
        ("admin servers, rack", f"{servers}?rack={fleet['rack']}", "session"),
        ("admin servers ?q=<name>", f"{servers}?q=srv-00042", "session"),
        ("admin servers, page 200", f"{servers}?p=200", "session"),
        ("admin operations", operations, "session"),
        ("admin operations ?state=failed", f"{operations}?state__exact=failed", "session"),
        ("admin operations ?kind=install", f"{operations}?kind__exact=install", "session"),
        ("admin operations, one server", f"{operations}?server={fleet['middle_id']}", "session"),
        (
            "admin operations, location",
            f"{operations}?server__rack__location__id__exact={fleet['location']}",
            "session",
        ),
        ("admin operations, by the panel", f"{operations}?requested_by=panel", "session"),
        ("admin operations, page 100", f"{operations}?p=100", "session"),
        ("admin audit events", "/admin/panel/auditevent/", "session"),
        ("admin audit events ?action=", "/admin/panel/auditevent/?action=server.create", "session"),
        ("admin webhook deliveries", "/admin/webhooks/delivery/", "session"),
        (
            "admin deliveries ?event__type=",
            "/admin/webhooks/delivery/?event__type=server.released",
            "session",
        ),
    ]


if __name__ == "__main__":
    main()
