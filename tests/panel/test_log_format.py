"""PANEL_LOG_FORMAT=json: one JSON object a line."""

import json
import logging
import subprocess
import sys
from pathlib import Path

from panel.logformat import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def record(message: str, *args, **fields) -> logging.LogRecord:
    entry = logging.makeLogRecord(
        {"name": "provisioning.tasks", "levelname": "WARNING", "msg": message, "args": args}
    )
    entry.__dict__.update(fields)
    return entry


def test_a_record_is_one_line_of_json_with_its_extra_fields():
    line = JsonFormatter().format(record("BMC %s did not answer\nat all", "10.0.0.5", server=7))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "provisioning.tasks"
    assert entry["message"] == "BMC 10.0.0.5 did not answer\nat all"
    assert entry["server"] == 7
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry and "msg" not in entry


def test_an_exception_is_kept_with_its_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        entry = record("failed", exc_info=sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter().format(entry))["exception"]


def test_values_json_cannot_hold_are_written_as_text():
    entry = json.loads(JsonFormatter().format(record("request", request=object())))
    assert entry["request"].startswith("<object object")


def test_the_setting_switches_the_console_to_json(tmp_path):
    code = "import logging; logging.getLogger('panel').warning('hello %s', 'world')"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "panel.settings",
            "SECRET_KEY": "log-format-test",
            "PANEL_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "PANEL_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stderr)["message"] == "hello world"
