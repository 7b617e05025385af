"""/metrics: Prometheus' text format, for staff tokens and allowed networks only."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Bmc
from panel.models import FailedLogin
from provisioning import powersync
from provisioning.models import Operation
from provisioning.powersync import SweepReport
from tests.factories import make_server

SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+]+)$')


def parse(text: str) -> dict[str, float]:
    """Every line is a comment or a sample; a sample's family was announced before it."""
    assert text.endswith("\n")
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line.startswith("# HELP "):
            continue
        else:
            match = SAMPLE.match(line)
            assert match, line
            name = match.group(1)
            assert any(name == family or name.startswith(family + "_") for family in types), line
            samples[name + (match.group(2) or "")] = float(match.group(4))
    return samples


def finished(server, kind: str, state: str, *, took: int, ago: int) -> Operation:
    now = timezone.now()
    return Operation.objects.create(
        server=server,
        kind=kind,
        state=state,
        started_at=now - timedelta(seconds=ago + took),
        finished_at=now - timedelta(seconds=ago),
    )


@pytest.fixture
def fleet(admin):
    now = timezone.now()
    servers = [make_server(actor=admin) for _ in range(3)]
    Operation.objects.create(server=servers[0], kind="power_on", state="queued")
    finished(servers[1], "install", "succeeded", took=300, ago=100)
    finished(servers[2], "install", "failed", took=10, ago=10)
    # Finished before the window: not counted.
    old = Operation.objects.create(server=servers[2], kind="power_off", state="succeeded")
    Operation.objects.filter(pk=old.pk).update(
        started_at=now - timedelta(days=2),
        finished_at=now - timedelta(days=2),
        updated_at=now - timedelta(days=2),
    )
    Bmc.objects.filter(server=servers[1]).update(reachable=True)
    Bmc.objects.filter(server=servers[2]).update(reachable=False)
    FailedLogin.objects.create(email="someone@example.test", source_ip="192.0.2.1")
    powersync.record_sweep(SweepReport(polled=3, failed=1, seconds=1.5))
    return servers


def test_staff_token_reads_every_figure_in_prometheus_text_format(
    admin_api, fleet, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = admin_api.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    figures = parse(response.content.decode())
    assert figures['metalpanel_operations{kind="power_on",state="queued"}'] == 1
    assert figures['metalpanel_operations{kind="install",state="succeeded"}'] == 1
    assert figures['metalpanel_operations{kind="install",state="failed"}'] == 1
    assert 'metalpanel_operations{kind="power_off",state="succeeded"}' not in figures
    duration = "metalpanel_operation_duration_seconds"
    assert figures[f'{duration}_bucket{{kind="install",le="15"}}'] == 1
    assert figures[f'{duration}_bucket{{kind="install",le="300"}}'] == 2
    assert figures[f'{duration}_bucket{{kind="install",le="+Inf"}}'] == 2
    assert figures[f'{duration}_sum{{kind="install"}}'] == 310
    assert figures[f'{duration}_count{{kind="install"}}'] == 2
    assert figures['metalpanel_queue_depth{queue="operations"}'] == 1
    assert 'metalpanel_queue_depth{queue="tasks"}' in figures
    assert figures["metalpanel_power_sweep_seconds"] == 1.5
    assert figures["metalpanel_power_sweep_polled"] == 3
    assert figures["metalpanel_power_sweep_failed"] == 1
    finished = figures["metalpanel_power_sweep_finished_timestamp_seconds"]
    assert abs(finished - timezone.now().timestamp()) < 60
    assert figures['metalpanel_bmcs{state="unreachable"}'] == 1
    assert figures['metalpanel_bmcs{state="reachable"}'] == 1
    assert figures['metalpanel_bmcs{state="unknown"}'] == 1
    assert figures["metalpanel_login_failures"] == 1


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/metrics").status_code == 200
    return len(captured)


def test_queries_do_not_grow_with_the_fleet(admin, admin_api, fleet):
    _queries(admin_api)  # the token's first use is recorded once
    before = _queries(admin_api)
    for kind in ("power_on", "power_off", "install", "wipe"):
        server = make_server(actor=admin)
        Operation.objects.create(server=server, kind=kind, state="running")
    assert _queries(admin_api) == before


def test_a_fresh_panel_has_no_sweep_figures_yet(admin_api):
    figures = parse(admin_api.get("/metrics").content.decode())
    assert "metalpanel_power_sweep_seconds" not in figures
    assert figures["metalpanel_login_failures"] == 0


def test_the_anonymous_are_refused(anonymous_api):
    assert anonymous_api.get("/metrics").status_code == 403


def test_a_customer_token_is_refused(owner_api):
    assert owner_api.get("/metrics").status_code == 403


def test_a_wrong_token_is_refused(anonymous_api):
    anonymous_api.credentials(HTTP_AUTHORIZATION="Token nope.nope")
    assert anonymous_api.get("/metrics").status_code == 403


def test_a_scraper_on_an_allowed_network_needs_no_token(anonymous_api, settings):
    settings.PANEL_METRICS_ALLOWED_CIDRS = ["127.0.0.0/8"]
    response = anonymous_api.get("/metrics")
    assert response.status_code == 200
    assert parse(response.content.decode())["metalpanel_login_failures"] == 0


def test_a_scraper_on_another_network_is_refused(anonymous_api, settings):
    settings.PANEL_METRICS_ALLOWED_CIDRS = ["192.0.2.0/24"]
    assert anonymous_api.get("/metrics").status_code == 403
