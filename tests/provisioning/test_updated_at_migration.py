"""The updated_at migrations: existing rows take the last change known from their own dates,
so a billing system's first ?updated_since= is not every row at migration time."""

from datetime import UTC, datetime

import pytest

BEFORE = [
    ("panel", "0002_failed_logins"),
    ("inventory", "0007_server_owner_since"),
    ("provisioning", "0011_network_schedule"),
]
AFTER = [
    ("panel", "0003_user_updated_at"),
    ("inventory", "0008_updated_at_for_sync"),
    ("provisioning", "0012_operation_updated_at"),
]
JOINED = datetime(2026, 1, 5, tzinfo=UTC)
ALLOCATED = datetime(2026, 2, 1, tzinfo=UTC)
QUEUED, STARTED, FINISHED = (datetime(2026, 3, day, tzinfo=UTC) for day in (1, 2, 3))


@pytest.mark.django_db(transaction=True)
def test_existing_rows_take_their_last_known_change(migrator):
    old = migrator(BEFORE)
    user = old.get_model("panel", "User").objects.create(
        email="old@example.test", date_joined=JOINED
    )
    profile = old.get_model("inventory", "HardwareProfile").objects.create(
        name="cfg", cpu="x", ram_gb=1, disk_size_gb=1
    )
    server = old.get_model("inventory", "Server").objects.create(name="old-01", profile=profile)
    network = old.get_model("inventory", "Network").objects.create(
        name="n", cidr="192.0.2.0/24", family=4
    )
    pool = old.get_model("inventory", "IpPool").objects.create(
        network=network, name="p", first_address="192.0.2.10", last_address="192.0.2.20"
    )
    address = old.get_model("inventory", "IpAddress")
    ip = address.objects.create(address="192.0.2.10", family=4, pool=pool, server=server)
    address.objects.filter(pk=ip.pk).update(created_at=ALLOCATED)
    operation = old.get_model("provisioning", "Operation")
    queued = operation.objects.create(server=server, kind="power_on", created_at=QUEUED)
    running = operation.objects.create(
        server=server, kind="power_off", created_at=QUEUED, started_at=STARTED, state="succeeded"
    )
    ended = operation.objects.create(
        server=server,
        kind="power_off",
        created_at=QUEUED,
        started_at=STARTED,
        finished_at=FINISHED,
        state="succeeded",
    )

    new = migrator(AFTER)

    assert new.get_model("panel", "User").objects.get(pk=user.pk).updated_at == JOINED
    assert new.get_model("inventory", "IpAddress").objects.get(pk=ip.pk).updated_at == ALLOCATED
    by_pk = dict(new.get_model("provisioning", "Operation").objects.values_list("pk", "updated_at"))
    assert (by_pk[queued.pk], by_pk[running.pk], by_pk[ended.pk]) == (QUEUED, STARTED, FINISHED)
