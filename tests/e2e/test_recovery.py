"""Recovery with real processes: qcluster workers, gunicorn, a redis-server of the test's
own, PostgreSQL backends terminated under the panel, BMCs that never answer."""

import json
import urllib.error
import urllib.request
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker

from inventory.models import Bmc
from panel import services as people
from panel.models import AuditEvent
from provisioning import services
from provisioning.models import Operation, OsTemplate
from provisioning.simlab.machine import simlab_mac
from tests.e2e.workers import Gunicorn, Qcluster, RedisServer, wait_until
from tests.factories import make_server
from tests.simlab import free_udp_ports

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (pg_terminate_backend)"
)


def lab_servers(simlab, admin, owner, count: int) -> list:
    servers = []
    for _ in range(count):
        port = simlab.take_port()
        bmc = {"address": "127.0.0.1", "port": port, "username": "admin", "password": "password"}
        server = make_server(actor=admin, owner=owner, mac=simlab_mac(port), bmc=bmc)
        server.lab_port = port
        servers.append(server)
    return servers


def api_status(url: str, token: str, body: dict | None = None) -> int:
    """The status of a GET (or, with a body, a JSON POST) to the panel over real HTTP."""
    request = urllib.request.Request(  # noqa: S310 - the panel on loopback
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def ended(ids, timeout: float = 60) -> list[Operation]:
    wait_until(
        lambda: not Operation.objects.filter(pk__in=ids, state__in=("queued", "running")).exists(),
        timeout,
    )
    return list(Operation.objects.filter(pk__in=ids))


def test_a_parked_operations_deadline_is_noticed_within_15_seconds(
    simlab, lab_server, customer, shipped_os_templates
):
    get_broker().purge_queue()
    simlab.change(lab_server.lab_port, power="on")  # no boot_url: it never boots the installer
    worker = Qcluster(PANEL_BMC_TIMEOUT=3)
    try:
        op = services.start_install(
            actor=customer,
            server=lab_server,
            template=OsTemplate.objects.get(name="AlmaLinux 9"),
            password="Correct-Horse-9",
        )
        wait_until(lambda: Operation.objects.filter(pk=op.pk, step="wait_pxe").exists())
        deadline = timezone.now() + timedelta(seconds=1)
        Operation.objects.filter(pk=op.pk).update(deadline=deadline)
        (op,) = ended([op.pk], timeout=30)
    finally:
        worker.kill()
    assert op.state == "failed" and op.error.startswith("Step 'wait_pxe'")
    late = (op.finished_at - deadline).total_seconds()
    print(f"deadline noticed {late:.1f} s late")
    assert late < 15


def test_silent_bmcs_do_not_starve_healthy_servers(simlab, admin, customer):
    """Twenty BMCs nobody answers (UDP ports with no listener), already marked unreachable,
    ahead of healthy servers in the queue: the healthy servers' operations start soon."""
    get_broker().purge_queue()
    first_port = free_udp_ports(20, start=40000)
    silent = []
    for port in range(first_port, first_port + 20):
        bmc = {"address": "127.0.0.1", "port": port, "username": "admin", "password": "x"}
        silent.append(make_server(actor=admin, owner=customer, bmc=bmc))
    # What two failed power-sync sweeps leave (tests/provisioning/test_power_sync.py).
    Bmc.objects.filter(server__in=silent).update(reachable=False, consecutive_failures=2)
    healthy = lab_servers(simlab, admin, customer, 4)
    for server in healthy:
        simlab.change(server.lab_port, power="off")
    worker = Qcluster(PANEL_WORKERS=4)  # the default PANEL_BMC_TIMEOUT (20 s)
    try:
        warm_up = services.request_power(actor=customer, server=healthy[0], action="on")
        ended([warm_up.pk], timeout=30)
        failing = [services.request_power(actor=customer, server=s, action="on").pk for s in silent]
        wanted = [
            services.request_power(actor=customer, server=s, action="off").pk for s in healthy
        ]
        ops = ended(failing + wanted, timeout=120)
    finally:
        worker.kill()
    waits = sorted((op.started_at - op.created_at).total_seconds() for op in ops if op.pk in wanted)
    print(f"healthy servers' queue wait: {', '.join(f'{w:.1f}' for w in waits)} s")
    assert {op.state for op in ops if op.pk in wanted} == {"succeeded"}
    assert {op.state for op in ops if op.pk in failing} == {"failed"}
    assert waits[-1] < 10


def test_with_the_broker_down_every_request_is_accepted_and_runs_once(simlab, admin, customer):
    """Redis stops while 20 power requests arrive: each is answered 202 (its operation is
    committed), and each operation runs exactly once after Redis is back."""
    redis = RedisServer()
    web = Gunicorn(REDIS_URL=redis.url)
    worker = Qcluster(REDIS_URL=redis.url, PANEL_WORKERS=2)
    _, token = people.create_api_token(actor=None, user=customer)
    warm_up, *servers = lab_servers(simlab, admin, customer, 21)

    def power_on(server) -> int:
        return api_status(f"{web.url}/api/v1/servers/{server.pk}/power/", token, {"action": "on"})

    try:
        assert power_on(warm_up) == 202
        ended(Operation.objects.values_list("pk", flat=True))  # the worker cluster is up
        redis.stop()
        assert [power_on(server) for server in servers] == [202] * 20
        ops = Operation.objects.filter(server__in=servers)
        assert ops.filter(state="queued").count() == 20
        redis.start()
        ops = ended(ops.values_list("pk", flat=True), timeout=60)
    finally:
        for process in (worker, web):
            process.kill()
        redis.stop()
    assert [op.state for op in ops] == ["succeeded"] * 20
    for op in ops:
        sent = op.events.filter(message__startswith="Sent chassis command").count()
        assert (op.attempts, sent) == (1, 1)
    audit = AuditEvent.objects.filter(
        action="operation.succeeded", target_id__in=[str(s.pk) for s in servers]
    )
    assert audit.count() == 20
    assert [simlab.machine(s.lab_port)["power_on_count"] for s in servers] == [1] * 20


@needs_postgresql
def test_a_database_connection_dropped_between_requests_is_not_a_500(customer, lab_server):
    _, token = people.create_api_token(actor=None, user=customer)
    web = Gunicorn(workers=1)

    def get() -> int:
        return api_status(f"{web.url}/api/v1/servers/{lab_server.pk}/", token)

    try:
        assert get() == 200
        database = connection.settings_dict
        with psycopg.connect(
            host=database["HOST"], port=database["PORT"], user=database["USER"], dbname="postgres"
        ) as admin_connection:
            terminated = admin_connection.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",  # every backend but this test's own
                (database["NAME"], connection.connection.info.backend_pid),
            ).fetchone()[0]
        assert terminated >= 1  # gunicorn's persistent connection
        assert [get() for _ in range(3)] == [200, 200, 200]
    finally:
        web.kill()
