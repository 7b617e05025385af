"""Migration 0009 on operations that ended before the root password hash was dropped at
the end: their hash goes too; a running install keeps its own."""

import pytest

BEFORE = [
    ("provisioning", "0008_bootticket_source_address"),
    ("inventory", "0004_server_names_are_host_names"),
]
AFTER = [("provisioning", "0009_recovery")]


@pytest.mark.django_db(transaction=True)
def test_ended_operations_lose_their_password_hash_and_running_ones_keep_it(migrator):
    old = migrator(BEFORE)
    profile = old.get_model("inventory", "HardwareProfile").objects.create(
        name="cfg", cpu="x", ram_gb=1, disk_size_gb=1
    )
    server_model = old.get_model("inventory", "Server")
    operation_model = old.get_model("provisioning", "Operation")
    params = {"os_name": "Debian 12", "password_hash": "$6$salt$hash"}
    ended = operation_model.objects.create(
        server=server_model.objects.create(name="old-01", profile=profile),
        kind="install",
        state="succeeded",
        params=params,
    )
    running = operation_model.objects.create(
        server=server_model.objects.create(name="old-02", profile=profile),
        kind="install",
        state="running",
        params=params,
    )

    new = migrator(AFTER)

    operations = new.get_model("provisioning", "Operation").objects
    assert operations.get(pk=ended.pk).params == {"os_name": "Debian 12"}
    assert operations.get(pk=running.pk).params == params
