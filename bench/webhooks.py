"""Webhooks: delivery throughput, and what publishing adds to the operation path.

Prints: 10,000 events published (in transactions of 100) and delivered by a real `qcluster`
to a receiver on 127.0.0.1 (deliveries per second, end to end); what an operator sees: power
operations requested over the API and run by that cluster's workers, from the request to the
operation's end, while the same workers deliver their events; then, in this process, owner
assignments (service calls, and API requests) and power operations run by the engine inline
against simlab BMCs (the worst case: nothing else in the time). Each with webhooks off (no
active subscription) and on (one taking every event), in alternating rounds, with the
difference in per cent.

On a fresh SQLite file with the ORM broker by default; with --postgres, on a database
`bench_webhooks` created (and dropped) on $DATABASE_URL's server, with $REDIS_URL (give it a
database of its own, e.g. redis://127.0.0.1:6379/13) as the broker.

    python bench/webhooks.py [--events 10000] [--workers 4] [--assignments 300]
                             [--operations 20] [--rounds 4] [--postgres]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

from benchlib import MANAGE, setup_django, start_simlab

SECRET = "whsec_bench-only-signing-secret"  # noqa: S105 - a throwaway receiver's


class Receiver:
    """Counts what arrives and which event ids it has seen (a deduplicating receiver)."""

    def __init__(self):
        self.requests = 0
        self.ids: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests += 1
                    receiver.ids.add(self.headers["Metalpanel-Event-Id"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--assignments", type=int, default=300)
    parser.add_argument("--operations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--base-port", type=int, default=31500)
    parser.add_argument("--postgres", action="store_true", help="$DATABASE_URL and $REDIS_URL")
    args = parser.parse_args()

    os.environ["ALLOWED_HOSTS"] = "testserver"
    with database(args.postgres) as where:
        print(f"on {where}")
        workdir = setup_django()
        receiver = Receiver()
        lab = start_simlab(args.operations + 1, args.base_port)
        try:
            with cluster(args.workers):
                throughput(args, receiver)
                operator_latency(args)
            added_latency(args)
        finally:
            receiver.stop()
            lab.terminate()
            lab.wait(timeout=30)
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def database(postgres: bool):
    """A fresh SQLite file (setup_django's), or a fresh PostgreSQL database next to
    $DATABASE_URL's, dropped afterwards."""
    if not postgres:
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        yield "SQLite, ORM broker"
        return
    import psycopg

    server, redis = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    name = "bench_webhooks"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    try:
        yield f"PostgreSQL {name}, Redis broker {redis}"
    finally:
        from django.db import connections
        from django_q.brokers import get_broker

        get_broker().purge_queue()
        connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def cluster(workers: int):
    """A real `qcluster` with `workers` workers, started before the timing begins."""
    process = subprocess.Popen(
        [*MANAGE, "qcluster"],
        env={**os.environ, "PANEL_WORKERS": str(workers)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # the cluster's start-up is not counted
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def throughput(args, receiver: Receiver) -> None:
    from django.db import transaction

    from panel.models import User
    from webhooks import services
    from webhooks.events import publish
    from webhooks.models import Delivery

    admin = User.objects.create_superuser("bench@example.test", "bench-password-1")
    services.create_subscription(
        actor=admin, name="bench", url=receiver.url, event_types=[], secret=SECRET
    )
    began = time.monotonic()
    for start in range(0, args.events, 100):
        with transaction.atomic():
            for number in range(start, min(start + 100, args.events)):
                server = {"id": number, "name": f"srv-{number}"}
                publish("server.assigned", {"server": server, "owner": None})
    published = time.monotonic() - began
    delivered = Delivery.objects.filter(status=Delivery.Status.DELIVERED)
    while delivered.count() < args.events and time.monotonic() - began < 900:
        time.sleep(0.25)
    elapsed = time.monotonic() - began
    done = delivered.count()
    print(
        f"published {args.events} events in {published:.2f} s "
        f"({args.events / published:,.0f} events/s, the callers' side)"
    )
    print(
        f"delivered {done} of {args.events} to a loopback receiver with {args.workers} workers "
        f"in {elapsed:.2f} s = {done / elapsed:,.0f} deliveries/s end to end "
        f"(receiver: {receiver.requests} requests, {len(receiver.ids)} distinct event ids)"
    )


def _timed(calls) -> list[float]:
    began = time.perf_counter()
    for call in calls:
        call()
    return [time.perf_counter() - began]


def _api():
    from rest_framework.test import APIClient

    from panel import services as people
    from panel.models import User

    admin = User.objects.get(email="bench@example.test")
    _, key = people.create_api_token(actor=None, user=admin)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return admin, api


def _rounds(name: str, case, rounds: int, unit: str = "rounds") -> None:
    """`case()` in alternating rounds with webhooks off and on; prints the medians."""
    from webhooks.models import Subscription

    case()  # warm up
    times = {"off": [], "on": []}
    for _ in range(rounds):
        for mode in ("off", "on"):
            Subscription.objects.update(active=mode == "on")
            times[mode].extend(case())
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(
        f"{name}: webhooks off {off * 1000:8.1f} ms, on {on * 1000:8.1f} ms "
        f"({(on - off) / off * 100:+.1f} %, median of {len(times['on'])} {unit})"
    )


POWER: dict[int, str] = {}  # the next action per server: simlab's machines go off and on


def _next_power(server) -> str:
    POWER[server.pk] = "off" if POWER.get(server.pk, "off") == "on" else "on"
    return POWER[server.pk]


def operator_latency(args) -> None:
    """Power operations requested over the API, one after the other as an operator would,
    run by the cluster's workers (which also deliver the events they publish): each from the
    request to the operation's end (its finished_at; the database is polled every 5 ms)."""
    from django.utils import timezone

    from inventory.models import Server
    from provisioning.models import Operation

    _, api = _api()
    servers = list(Server.objects.order_by("pk")[: args.operations])

    def one_by_one() -> list[float]:
        took = []
        for server in servers:
            requested = timezone.now()
            answer = api.post(
                f"/api/v1/servers/{server.pk}/power/",
                {"action": _next_power(server)},
                format="json",
            )
            assert answer.status_code == 202, answer.content
            finished = Operation.objects.filter(pk=answer.json()["task"], finished_at__isnull=False)
            while not (ended := finished.values_list("finished_at", "state").first()):
                time.sleep(0.005)
            assert ended[1] == Operation.State.SUCCEEDED, ended
            took.append((ended[0] - requested).total_seconds())
        return took

    _rounds(
        f"{len(servers)} power operations over the API, run by {args.workers} workers, "
        "request to end",
        one_by_one,
        args.rounds,
        "operations",
    )


def added_latency(args) -> None:
    """In this process, with nothing else going on: the worst case for what publishing adds."""
    from inventory import services as inventory
    from inventory.models import Server
    from panel.models import User
    from provisioning import services as provisioning
    from provisioning.tasks import run_operation

    admin, api = _api()
    customer = User.objects.create_user("customer@example.test", "bench-password-1")
    *lab_servers, free = Server.objects.order_by("pk")[: args.operations + 1]

    def assign_and_release():
        inventory.assign_owner(actor=admin, server=free, owner=customer)
        inventory.release_owner(actor=admin, server=free)

    def assign_and_release_by_api():
        api.post(f"/api/v1/servers/{free.pk}/owner/", {"owner": customer.pk}, format="json")
        api.delete(f"/api/v1/servers/{free.pk}/owner/")

    def operations():
        for server in lab_servers:
            op = provisioning.request_power(actor=admin, server=server, action=_next_power(server))
            run_operation(op.pk)

    cases = {
        f"{args.assignments} owner assign+release (services)": lambda: _timed(
            [assign_and_release] * args.assignments
        ),
        f"{args.assignments // 3} owner assign+release (API)": lambda: _timed(
            [assign_and_release_by_api] * (args.assignments // 3)
        ),
        f"{len(lab_servers)} power operations run inline by the engine (worst case)": lambda: (
            _timed([operations])
        ),
    }
    _check_api(api, free, customer)
    for name, case in cases.items():
        _rounds(name, case, args.rounds)


def _check_api(api, server, customer) -> None:
    answer = api.post(f"/api/v1/servers/{server.pk}/owner/", {"owner": customer.pk}, format="json")
    assert answer.status_code in (200, 201), answer.content
    assert api.delete(f"/api/v1/servers/{server.pk}/owner/").status_code in (200, 204)


if __name__ == "__main__":
    main()
