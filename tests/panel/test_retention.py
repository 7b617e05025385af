"""History past its retention goes, in batches, daily and on an operator's command; what the
panel still reads (active work, each server's newest operation and its newest suspend or
resume, pending webhook deliveries) stays."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from dci.selectors import with_dci_state
from inventory.models import Server
from panel import tasks
from panel.models import AuditEvent
from panel.retention import purge_history
from provisioning.models import BootTicket, ConsoleSession, Operation, OperationEvent
from tests.factories import make_server
from webhooks.models import Delivery, Event, Subscription

pytestmark = pytest.mark.django_db

OLD = timedelta(days=400)  # past the default 365 days of operations, within 730 of audit


def operation(server, *, age: timedelta, kind="power_cycle", state="succeeded") -> Operation:
    return Operation.objects.create(
        server=server, kind=kind, state=state, created_at=timezone.now() - age
    )


def history(admin, *days_old: int) -> Server:
    """A server with a finished operation that many days old for each of `days_old`."""
    server = make_server(actor=admin)
    for days in days_old:
        operation(server, age=timedelta(days=days))
    return server


def test_old_operations_go_with_their_logs_and_tickets_but_each_servers_newest_stays(admin):
    server, quiet = make_server(actor=admin), make_server(actor=admin)
    oldest = operation(server, age=OLD + timedelta(days=2), kind="install")
    OperationEvent.objects.create(operation=oldest, message="Installer fetched its config.")
    BootTicket.objects.create(
        operation=oldest, server=server, mac=server.mac, state="done", expires_at=timezone.now()
    )
    old = operation(server, age=OLD + timedelta(days=1), state="failed")
    recent = operation(server, age=timedelta(days=3))
    only = operation(quiet, age=OLD)  # its server's newest, however old: DCI's task

    deleted = purge_history()

    assert set(Operation.objects.values_list("pk", flat=True)) == {recent.pk, only.pk}
    assert not OperationEvent.objects.exists() and not BootTicket.objects.exists()
    assert deleted == {
        "provisioning.Operation": 2,
        "provisioning.OperationEvent": 1,
        "provisioning.BootTicket": 1,
    }
    assert not Operation.objects.filter(pk__in=[oldest.pk, old.pk]).exists()


def test_work_still_queued_or_running_is_never_purged_however_old(admin):
    server = make_server(actor=admin)
    stuck = operation(server, age=OLD * 2, kind="install", state="running")
    operation(server, age=timedelta(days=1), state="cancelled")
    purge_history()
    assert Operation.objects.filter(pk=stuck.pk).exists()


def test_the_newest_suspend_or_resume_stays_for_dcimanagers_server_state(admin):
    server = make_server(actor=admin)
    operation(server, age=OLD + timedelta(days=3), kind="resume")
    failed = operation(server, age=OLD + timedelta(days=2), kind="suspend", state="failed")
    later = operation(server, age=OLD + timedelta(days=1))
    newest = operation(server, age=timedelta(days=1))

    purge_history()

    assert set(Operation.objects.values_list("pk", flat=True)) == {failed.pk, newest.pk}
    assert not Operation.objects.filter(pk=later.pk).exists()
    assert with_dci_state(Server.objects.filter(pk=server.pk)).get().dci_state == "suspend_error"


def test_audit_events_are_kept_two_years_and_the_purge_is_audited_with_its_counts(admin):
    make_server(actor=admin)  # its enrolment is audited now
    AuditEvent.objects.create(action="server.update", created_at=timezone.now() - OLD)
    ancient = AuditEvent.objects.create(
        action="server.update", created_at=timezone.now() - timedelta(days=731)
    )

    purge_history()

    assert not AuditEvent.objects.filter(pk=ancient.pk).exists()
    assert AuditEvent.objects.filter(action="server.update").count() == 1
    record = AuditEvent.objects.get(action="history.purge")
    assert record.actor is None and record.detail == {"deleted": {"panel.AuditEvent": 1}}


def test_console_sessions_go_with_the_audit_log_but_an_open_one_stays(admin):
    server = make_server(actor=admin)
    *_, held = (
        ConsoleSession.objects.create(
            server=server,
            user=admin,
            token_hash=f"{n}" * 64,
            state=state,
            expires_at=timezone.now(),
        )
        for n, state in enumerate(["closed", "issued", "open"])
    )
    ConsoleSession.objects.update(created_at=timezone.now() - timedelta(days=731))

    assert purge_history()["provisioning.ConsoleSession"] == 2

    assert list(ConsoleSession.objects.all()) == [held]


def test_webhook_events_go_with_their_deliveries_unless_one_is_still_pending():
    hook = Subscription.objects.create(name="billing", url="https://billing.example.test/")
    long_ago = timezone.now() - timedelta(days=31)
    events = [Event.objects.create(type="server.assigned", data={}) for _ in range(3)]
    for event, status in zip(events, ["delivered", "failed", "pending"], strict=True):
        Delivery.objects.create(subscription=hook, event=event, status=status, retry_until=long_ago)
    Event.objects.update(created_at=long_ago)
    fresh = Event.objects.create(type="server.released", data={})

    deleted = purge_history()

    assert set(Event.objects.values_list("pk", flat=True)) == {events[2].pk, fresh.pk}
    assert list(Delivery.objects.values_list("status", flat=True)) == ["pending"]
    assert deleted == {"webhooks.Event": 2, "webhooks.Delivery": 2}


def test_zero_days_keeps_history_for_good(admin, settings):
    settings.PANEL_RETAIN_OPERATIONS_DAYS = 0
    settings.PANEL_RETAIN_AUDIT_DAYS = 0
    history(admin, 4000, 3600)
    AuditEvent.objects.create(action="server.update", created_at=timezone.now() - OLD * 10)

    assert purge_history() == {}
    assert Operation.objects.count() == 2
    assert not AuditEvent.objects.filter(action="history.purge").exists()


def test_rows_are_deleted_in_batches_of_short_deletes(admin, settings):
    settings.PANEL_RETAIN_OPERATIONS_DAYS = 30
    history(admin, 40, 41, 42, 43, 44, 45, 46, 1)

    with CaptureQueriesContext(connection) as queries:
        deleted = purge_history(batch=3)

    deletes = [
        query["sql"]
        for query in queries
        if query["sql"].startswith('DELETE FROM "provisioning_operation"')
    ]
    assert len(deletes) == 3  # 3 + 3 + 1 rows
    assert deleted["provisioning.Operation"] == 7
    assert Operation.objects.count() == 1


def test_a_run_out_of_time_still_takes_a_batch_of_every_table_and_the_next_one_goes_on(
    admin, settings
):
    settings.PANEL_RETAIN_OPERATIONS_DAYS = 30
    history(admin, 40, 41, 42, 1)
    ancient = timezone.now() - timedelta(days=731)
    for _ in range(2):
        AuditEvent.objects.create(action="server.update", created_at=ancient)
        Event.objects.create(type="server.assigned", data={})
    Event.objects.update(created_at=ancient)

    # A backlog of operations that takes all the time cannot starve the other tables.
    assert purge_history(seconds=0, batch=1) == {
        "provisioning.Operation": 1,
        "panel.AuditEvent": 1,
        "webhooks.Event": 1,
    }
    assert purge_history() == {
        "provisioning.Operation": 2,
        "panel.AuditEvent": 1,
        "webhooks.Event": 1,
    }


def test_the_purge_is_scheduled_daily_after_migrate():
    schedule = Schedule.objects.get(name="metalpanel: purge history past its retention")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "panel.tasks.purge_history",
        Schedule.MINUTES,
        24 * 60,
    )
    assert schedule.repeats == -1


def test_the_task_reports_what_it_purged(admin):
    history(admin, 400, 1)
    assert tasks.purge_history() == "purged 1 provisioning.Operation"
    assert tasks.purge_history() == "purged nothing"


def test_operators_purge_with_the_command_and_read_the_counts(admin):
    history(admin, 500, 450, 1)
    out = StringIO()

    call_command("purge_history", "--batch-size", "1", stdout=out)

    assert out.getvalue().splitlines() == [
        "PANEL_RETAIN_OPERATIONS_DAYS: kept 365 days",
        "PANEL_RETAIN_AUDIT_DAYS: kept 730 days",
        "PANEL_RETAIN_WEBHOOK_DAYS: kept 30 days",
        "provisioning.Operation: 2 deleted",
        "purged 2 provisioning.Operation",
    ]
    assert Operation.objects.count() == 1
