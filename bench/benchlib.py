"""What the bench scripts share: a throwaway panel database and a simlab that enrols itself."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

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
