"""Migration 0007: servers owned already take the time of their last assignment."""

from datetime import UTC, datetime

import pytest

BEFORE = [("inventory", "0006_snmp_value_ranges")]
AFTER = [("inventory", "0007_server_owner_since")]


@pytest.mark.django_db(transaction=True)
def test_owned_servers_are_owned_since_their_last_assignment(migrator, customer):
    old = migrator(BEFORE)
    profile = old.get_model("inventory", "HardwareProfile").objects.create(
        name="cfg", cpu="x", ram_gb=1, disk_size_gb=1
    )
    server = old.get_model("inventory", "Server")
    owned = server.objects.create(name="owned-01", profile=profile, owner_id=customer.pk)
    unknown = server.objects.create(name="owned-02", profile=profile, owner_id=customer.pk)
    free = server.objects.create(name="free-01", profile=profile)
    event = old.get_model("panel", "AuditEvent")
    for when in (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)):
        event.objects.create(
            action="server.assign_owner",
            target_type="inventory.server",
            target_id=str(owned.pk),
            created_at=when,
        )

    new = migrator(AFTER).get_model("inventory", "Server")

    assert new.objects.get(pk=owned.pk).owner_since == datetime(2026, 9, 1, tzinfo=UTC)
    assert new.objects.get(pk=unknown.pk).owner_since is None  # nothing in the log: unknown
    assert new.objects.get(pk=free.pk).owner_since is None
