"""The SNMP client against a real agent (snmpsim): values, v2c and v3, bounded failures."""

import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from inventory.models import Switch
from network import snmp
from network.snmp import SnmpAuthFailed, SnmpRefused, SnmpTarget, SnmpUnreachable
from tests.network.conftest import SYS_DESCR, V3_AUTH_KEY, V3_PRIV_KEY, counter_in
from tests.simlab import free_udp_ports

IF_DESCR_1001 = "1.3.6.1.2.1.2.2.1.2.1001"
HC_IN_1001 = "1.3.6.1.2.1.31.1.1.1.6.1001"
MARGIN = 1.0  # seconds: scheduling on a busy 2-core machine


def test_a_v2c_get_reads_values_and_a_missing_object_as_none(snmpsim):
    values = snmp.get(
        snmpsim.target("switch"), [SYS_DESCR, IF_DESCR_1001, HC_IN_1001, "1.3.6.1.2.1.2.2.1.2.9"]
    )
    assert values == {
        SYS_DESCR: "Test switch (snmpsim)",
        IF_DESCR_1001: "GigabitEthernet1/0/1",
        HC_IN_1001: counter_in(1001),
        "1.3.6.1.2.1.2.2.1.2.9": None,
    }


def test_snmp_v3_with_sha_and_aes_reads_the_switch(snmpsim):
    assert snmp.get(snmpsim.v3_target(), [IF_DESCR_1001]) == {IF_DESCR_1001: "GigabitEthernet1/0/1"}


def test_a_walk_reads_table_columns_side_by_side(snmpsim):
    columns = ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.1"]
    table = snmp.walk(snmpsim.target("switch"), columns)
    assert len(table[columns[0]]) == 49  # Vlan1 and 48 ports
    assert len(table[columns[1]]) == 48  # Vlan1 has no ifXTable row
    assert table[columns[1]]["1048"] == "Gi1/0/48"


def test_a_wrong_community_is_unreachable_within_the_bound(snmpsim, fast_snmp):
    started = time.monotonic()
    with pytest.raises(SnmpUnreachable) as caught:
        snmp.get(snmpsim.target("not-the-community"), [SYS_DESCR])
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 1.0 + MARGIN  # retried once, gave up after 0.5 s x 2 tries
    assert f"127.0.0.1:{snmpsim.port}" in caught.value.message
    assert "community" in caught.value.message


def test_a_port_where_nothing_listens_is_unreachable_within_the_bound(fast_snmp):
    dead = SnmpTarget("127.0.0.1", free_udp_ports(1, start=44000), community="public")
    started = time.monotonic()
    with pytest.raises(SnmpUnreachable) as caught:
        snmp.walk(dead, ["1.3.6.1.2.1.2.2.1.2"])
    assert time.monotonic() - started < 1.0 + MARGIN
    assert "No answer from the SNMP agent at 127.0.0.1:" in caught.value.message
    assert "within 1 s (2 tries)" in caught.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"auth_key": "not-the-auth-key"},
        {"priv_key": "not-the-priv-key"},
        {"username": "someone-else"},
        {"auth_protocol": "md5"},
    ],
    ids=["auth key", "priv key", "user", "auth protocol"],
)
def test_wrong_v3_credentials_are_an_auth_failure_at_once(snmpsim, fast_snmp, changes):
    started = time.monotonic()
    with pytest.raises(SnmpAuthFailed) as caught:
        snmp.get(snmpsim.v3_target(**changes), [SYS_DESCR])
    assert time.monotonic() - started < 1.0 + MARGIN
    assert "Check the SNMP v3 user" in caught.value.message


def test_a_v3_key_shorter_than_8_characters_is_refused_before_sending(snmpsim):
    with pytest.raises(SnmpAuthFailed, match="shorter than 8 characters"):
        snmp.get(snmpsim.v3_target(auth_key="short"), [SYS_DESCR])


def test_setting_a_read_only_object_is_refused(snmpsim):
    with pytest.raises(SnmpRefused) as caught:
        snmp.set_values(snmpsim.target("switch"), [(SYS_DESCR, "renamed")])
    assert "notWritable on 1.3.6.1.2.1.1.1.0" in caught.value.message
    assert snmp.get(snmpsim.target("switch"), [SYS_DESCR])[SYS_DESCR] == "Test switch (snmpsim)"


def test_setting_an_object_the_agent_cannot_keep_is_refused(snmpsim):
    """snmpsim answers a SET of a plain record with noSuchInstance in place of the value."""
    with pytest.raises(SnmpRefused, match=re.escape(f"no writable {IF_DESCR_1001}")):
        snmp.set_values(snmpsim.target("switch"), [(IF_DESCR_1001, "renamed")])


def test_secrets_appear_in_no_repr_and_no_error_message(snmpsim, fast_snmp):
    target = snmpsim.v3_target(auth_key="hunter2-auth-key", priv_key="hunter2-priv-key")
    community = snmpsim.target("hunter2-community")
    for secret_holder in (target, community):
        assert "hunter2" not in repr(secret_holder)
        assert "hunter2" not in str(secret_holder)
    for failing in (target, community):
        with pytest.raises(snmp.SnmpError) as caught:
            snmp.get(failing, [SYS_DESCR])
        assert "hunter2" not in caught.value.message
        assert "hunter2" not in repr(caught.value)
    assert V3_AUTH_KEY not in repr(snmpsim.v3_target())
    assert V3_PRIV_KEY not in repr(snmpsim.v3_target())


def test_sync_calls_from_many_threads_share_one_snmp_loop(snmpsim):
    def read(index):
        oid = f"1.3.6.1.2.1.2.2.1.2.{1000 + index}"
        return index, snmp.get(snmpsim.target("switch"), [oid])[oid], threading.get_ident()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(read, range(1, 49)))
    assert [name for _, name, _ in results] == [f"GigabitEthernet1/0/{n}" for n in range(1, 49)]
    assert len({thread for _, _, thread in results}) > 1


@pytest.mark.django_db
def test_a_targets_secrets_are_decrypted_from_the_device():
    switch = Switch(name="sw1", address="192.0.2.10", port=1161, snmp_version="3")
    switch.username, switch.auth_protocol, switch.priv_protocol = "ops", "sha256", "aes256"
    switch.set_secret("auth_key", "auth-key-123")
    switch.set_secret("priv_key", "priv-key-456")
    switch.set_secret("community", "ignored-for-v3")
    switch.save()
    target = SnmpTarget.for_device(Switch.objects.get(pk=switch.pk))
    assert target == SnmpTarget(
        "192.0.2.10", 1161, "3", "", "ops", "sha256", "auth-key-123", "aes256", "priv-key-456"
    )
    assert str(target) == "192.0.2.10:1161"


@pytest.mark.skipif(shutil.which("snmpget") is None, reason="net-snmp is installed by .ci/run")
def test_net_snmp_reads_what_the_client_reads(snmpsim):
    """A client no one here wrote, against the same agent: SNMP v3 with SHA + AES."""
    output = subprocess.run(
        ["snmpget", "-v3", "-l", "authPriv", "-u", "panel", "-a", "SHA", "-A", V3_AUTH_KEY,
         "-x", "AES", "-X", V3_PRIV_KEY, "-On", "-Oq", f"127.0.0.1:{snmpsim.port}", HC_IN_1001],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout  # fmt: skip
    assert output.split() == [f".{HC_IN_1001}", str(counter_in(1001))]
    assert snmp.get(snmpsim.v3_target(), [HC_IN_1001])[HC_IN_1001] == counter_in(1001)
