"""Settings come from the environment; checked in fresh interpreters."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from panel.sources import client_address

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import json, panel.settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'name': s.DATABASES['default']['NAME'], 'q': s.Q_CLUSTER, 'debug': s.DEBUG, "
    "'boot_cidrs': s.PANEL_BOOT_ALLOWED_CIDRS}))"
)


def load_settings(**env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result


def test_secret_key_is_required_when_debug_is_off():
    result = load_settings()
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_defaults_are_a_sqlite_file_and_the_orm_broker():
    result = load_settings(SECRET_KEY="x")
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["name"].endswith("db.sqlite3")
    assert loaded["q"]["orm"] == "default"
    assert "redis" not in loaded["q"]
    assert loaded["debug"] is False


def test_database_url_and_redis_url_switch_to_postgres_and_redis():
    result = load_settings(
        SECRET_KEY="x",
        DATABASE_URL="postgres://u@db.example:5432/panel",
        REDIS_URL="redis://cache:6379/2",
    )
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["name"] == "panel"
    assert loaded["q"]["redis"] == (
        "redis://cache:6379/2?socket_connect_timeout=3&socket_timeout=5"
    )
    assert "orm" not in loaded["q"]


def test_a_redis_that_never_answers_fails_fast_instead_of_hanging():
    """A real peer that accepts and then says nothing (a broker behind a dropping firewall)."""
    import redis

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    url = json.loads(load_settings(SECRET_KEY="x", REDIS_URL=f"redis://127.0.0.1:{port}/0").stdout)[
        "q"
    ]["redis"]
    began = time.monotonic()
    with pytest.raises(redis.exceptions.TimeoutError):
        redis.Redis.from_url(url).ping()
    assert time.monotonic() - began < 7
    silent.close()
    explicit = load_settings(SECRET_KEY="x", REDIS_URL="redis://cache/0?socket_timeout=30")
    assert "socket_timeout=30" in json.loads(explicit.stdout)["q"]["redis"]


def test_no_address_may_use_the_boot_endpoints_unless_configured():
    assert json.loads(load_settings(SECRET_KEY="x").stdout)["boot_cidrs"] == []
    allowed = load_settings(SECRET_KEY="x", PANEL_BOOT_ALLOWED_CIDRS="10.9.0.0/16, 10.0.0.2")
    assert json.loads(allowed.stdout)["boot_cidrs"] == ["10.9.0.0/16", "10.0.0.2"]
    refused = load_settings(SECRET_KEY="x", PANEL_BOOT_ALLOWED_CIDRS="10.9.0.1/16")
    assert refused.returncode != 0
    assert "PANEL_BOOT_ALLOWED_CIDRS: 10.9.0.1/16 has host bits set" in refused.stderr


def test_debug_runs_without_a_secret_key():
    assert json.loads(load_settings(DEBUG="1").stdout)["debug"] is True


@pytest.mark.django_db
def test_the_configured_broker_carries_a_message():
    """SQLite run: the ORM broker; PostgreSQL run: the Redis named by REDIS_URL."""
    from django_q.brokers import get_broker

    broker = get_broker(list_key="metalpanel-test")
    assert broker.ping()
    broker.enqueue("hello")
    [(task_id, message)] = broker.dequeue()
    assert message in ("hello", b"hello")
    broker.acknowledge(task_id)
    assert type(broker).__name__ == ("Redis" if settings.REDIS_URL else "ORM")


def test_client_address_trusts_only_the_configured_proxies(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_address(request) == "10.0.0.1"
    with override_settings(PANEL_TRUSTED_PROXY_COUNT=1, PANEL_TRUSTED_PROXY_CIDRS=["10.0.0.0/24"]):
        assert client_address(request) == "203.0.113.9"


@override_settings(PANEL_TRUSTED_PROXY_COUNT=1, PANEL_TRUSTED_PROXY_CIDRS=["10.0.0.0/24"])
def test_a_client_that_bypasses_the_proxy_cannot_claim_another_address(rf):
    spoofed = rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.20.0.7")
    assert client_address(spoofed) == "203.0.113.9"


@override_settings(PANEL_TRUSTED_PROXY_COUNT=1, PANEL_TRUSTED_PROXY_CIDRS=["10.0.0.0/24"])
def test_a_hop_that_is_not_an_address_is_not_believed(rf):
    for junk in ("not-an-ip", "10.0.0.300", "", " , "):
        request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=junk)
        assert client_address(request) == "10.0.0.1"
    mapped = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="::ffff:192.0.2.5")
    assert client_address(mapped) == "192.0.2.5"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PANEL_RETAIN_AUDIT_DAYS": "2y"}, "PANEL_RETAIN_AUDIT_DAYS must be a whole number"),
        ({"PANEL_RETAIN_OPERATIONS_DAYS": "-1"}, "PANEL_RETAIN_OPERATIONS_DAYS must be at least 0"),
        ({"PANEL_POWER_SYNC_CHUNK": "0"}, "PANEL_POWER_SYNC_CHUNK must be at least 1"),
        ({"PANEL_POWER_SYNC_CHUNK": "1000"}, "A power sweep chunk of dead BMCs would take 320 s"),
        (
            {"PANEL_POWER_SYNC_CLAIM_SECONDS": "60"},
            "PANEL_POWER_SYNC_CLAIM_SECONDS must be over the 80 s",
        ),
    ],
)
def test_a_bad_number_is_refused_at_start_up_with_its_name(env, message):
    """A negative chunk once planned rounds that queued nothing: no BMC was ever read again."""
    result = load_settings(SECRET_KEY="x", PANEL_BMC_TIMEOUT="20", **env)
    assert result.returncode != 0
    assert message in result.stderr
