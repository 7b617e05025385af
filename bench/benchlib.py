"""What the bench scripts share: a throwaway panel database and a simlab that enrols itself."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def setup_django() -> Path:
    """Django on a fresh SQLite file in a temporary folder (returned; the caller removes it),
    or on DATABASE_URL when it is set. Migrated, quiet."""
    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="metalpanel-bench-"))
    os.environ.update(
        SECRET_KEY="bench-only",
        PANEL_SQLITE_PATH=str(workdir / "bench.sqlite3"),
        DJANGO_SETTINGS_MODULE="panel.settings",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return workdir


@contextmanager
def bench_database(postgres_url: str | None, redis_url: str | None = None) -> Iterator[None]:
    """A migrated panel database for a bench served over HTTP or read by workers (so other
    processes see the same one): SQLite in a temporary folder, or the throwaway PostgreSQL
    database `postgres_url` names, created first and dropped after. Redis as the broker only
    when `redis_url` is given."""
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    if postgres_url:
        create_database(postgres_url)
        os.environ["DATABASE_URL"] = postgres_url
    workdir = setup_django()
    try:
        yield
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if postgres_url:
            from django.db import connections

            connections.close_all()
            drop_database(postgres_url)


def start_simlab(servers: int, base_port: int, *options: str) -> subprocess.Popen:
    """simlab with a BMC per server, enrolled in the database; returns once it is ready."""
    lab = subprocess.Popen(
        [
            *(*MANAGE, "simlab", "--servers", str(servers), "--base-port", str(base_port)),
            *("--enrol", *options),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    while "simlab ready" not in (lab.stdout.readline() or "simlab ready"):
        pass
    return lab


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(workers: int = 2, threads: int = 1, code: Path = ROOT):
    """The panel under gunicorn on a free loopback port (the code in `code`, on the database
    the environment names); yields its base URL."""
    port = free_port()
    web = subprocess.Popen(
        [
            *("gunicorn", "panel.wsgi", "-b", f"127.0.0.1:{port}"),
            *("-w", str(workers), "--threads", str(threads), "--log-level", "warning"),
        ],
        cwd=code,
        env={**os.environ, "LOG_LEVEL": "ERROR"},  # not a line per refused request
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/login/")
        yield f"http://127.0.0.1:{port}"
    finally:
        web.terminate()
        web.wait(timeout=30)


def wait_for_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - loopback
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def database_version() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        return cursor.fetchone()[0].split(" on ")[0]


def create_database(url: str) -> None:
    """Create the throwaway PostgreSQL database `url` names (it must not exist yet)."""
    _postgres(url, f"CREATE DATABASE {_database_name(url)}")


def drop_database(url: str) -> None:
    _postgres(url, f"DROP DATABASE {_database_name(url)}")


def _database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name.isidentifier() or name in ("test", "postgres"):
        raise SystemExit(f"Give a throwaway database name, not {name!r}.")
    return name


def _postgres(url: str, statement: str) -> None:
    import psycopg

    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(statement)
