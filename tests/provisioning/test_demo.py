"""`manage.py demo`: ports that can be moved, a clear stop when one is taken, no child left
behind, and a secret key of its own."""

import os
import random
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from panel import secretkey
from provisioning.simlab.ports import is_free
from provisioning.simlab.processes import ChildExited, Children, StopRequested

ROOT = Path(__file__).resolve().parents[2]


def free_range(protocol: str, count: int) -> int:
    """The first of `count` consecutive ports free for `protocol` on loopback."""
    while True:
        first = random.randrange(30000, 60000 - count)
        if all(is_free(protocol, "127.0.0.1", port) for port in range(first, first + count)):
            return first


def demo_env(tmp_path: Path) -> dict[str, str]:
    """No SECRET_KEY, no DEBUG: as a newcomer runs it. A database of the test's own."""
    env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG"}}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["PANEL_SQLITE_PATH"] = str(tmp_path / "demo.sqlite3")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def demo_ports(servers: int = 2) -> list[str]:
    return [
        f"--port={free_range('tcp', 1)}",
        f"--bmc-port={free_range('udp', servers)}",
        f"--control-port={free_range('tcp', 1)}",
        f"--switch-port={free_range('udp', 1)}",
        f"--pdu-port={free_range('udp', 1)}",
        f"--servers={servers}",
    ]


def run_demo(tmp_path, *options, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "demo", *options],
        cwd=ROOT,
        env=demo_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("protocol", "option", "variable"),
    [
        ("tcp", "--port", "PANEL_DEMO_PORT"),
        ("udp", "--switch-port", "PANEL_DEMO_SWITCH_PORT"),
    ],
)
def test_a_port_in_use_is_one_line_naming_the_option_that_moves_it(
    tmp_path, protocol, option, variable
):
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        if protocol == "tcp":
            holder.listen()
        port = holder.getsockname()[1]
        options = [o for o in demo_ports() if not o.startswith(f"{option}=")]
        result = run_demo(tmp_path, *options, f"{option}={port}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"CommandError: Port {port}/{protocol} on 127.0.0.1 "
        f"({'the web panel' if protocol == 'tcp' else 'the SNMP switch'}) is in use: "
        f"choose another with {option} or {variable}."
    ]
    assert not (tmp_path / "demo.sqlite3").exists()  # nothing started, nothing written


def test_a_port_in_a_bmc_range_is_found_too(tmp_path):
    options = demo_ports(servers=3)
    first = int(next(o for o in options if o.startswith("--bmc-port=")).split("=")[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", first + 2))
        result = run_demo(tmp_path, *options)
    assert result.returncode == 1
    assert f"Port {first + 2}/udp on 127.0.0.1 (simlab's BMCs)" in result.stderr


def test_the_environment_moves_a_port_too(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "demo", *demo_ports()[1:]],
            cwd=ROOT,
            env=demo_env(tmp_path) | {"PANEL_DEMO_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"Port {port}/tcp" in result.stderr


def test_the_secret_key_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "demo.sqlite3.secret-key"
    key = secretkey.read_or_create(path)
    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secretkey.read_or_create(path) == key


def test_seeding_without_debug_or_a_secret_key_keeps_its_key_for_the_next_start(tmp_path):
    first = run_demo(tmp_path, "--seed-only", "--servers=2")
    assert first.returncode == 0, first.stderr
    assert "Metalpanel demo datacenter is ready." in first.stdout
    key_file = tmp_path / "demo.sqlite3.secret-key"
    key = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = run_demo(tmp_path, "--seed-only", "--servers=2")
    assert again.returncode == 0, again.stderr
    assert key_file.read_text() == key


def test_a_child_that_stops_is_reported_with_its_exit_code():
    children = Children()
    children.start("the web panel", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    try:
        deadline = time.monotonic() + 10
        with pytest.raises(ChildExited, match=r"the web panel stopped \(exit code 3\)"):
            while time.monotonic() < deadline:
                children.check()
                time.sleep(0.05)
    finally:
        children.stop()


def test_a_stop_signal_only_sets_a_flag_that_the_wait_and_the_check_act_on():
    """Raising from the handler could land inside Popen.poll, holding its lock, and the
    stop's Popen.wait would then hang (seen once in CI: the demo never exited)."""
    children = Children()
    threading.Timer(0.2, children.ask_to_stop, args=(signal.SIGINT, None)).start()
    began = time.monotonic()
    children.pause(30)
    assert time.monotonic() - began < 5
    with pytest.raises(StopRequested):
        children.check()


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
worker = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
print(worker.pid, flush=True)
time.sleep(60)
"""


def test_stopping_kills_a_child_and_its_workers_that_ignore_sigterm():
    children = Children()
    child = children.start(
        "qcluster", [sys.executable, "-c", STUBBORN], dict(os.environ) | {"PYTHONUNBUFFERED": "1"}
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_group(child.process.pid)) < 2:
        time.sleep(0.05)
    members = _group(child.process.pid)
    assert len(members) == 2
    began = time.monotonic()
    children.stop(seconds=0.5)
    assert time.monotonic() - began < 5
    assert not _alive(members)


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process (not zombies), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, parent, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except OSError:
                continue
            if state != "Z":
                found.append((int(entry.name), int(parent), int(group)))
    return found


def _group(pgid: int) -> list[int]:
    return [pid for pid, _, group in _processes() if group == pgid]


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid, _, _ in _processes() if pid in pids]


def _descendants(pid: int) -> list[int]:
    children = {}
    for child, parent, _ in _processes():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_signal_stops_every_child_of_a_running_demo(tmp_path, signum):
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", *demo_ports()],
        cwd=ROOT,
        env=demo_env(tmp_path) | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in demo.stdout:
            if "is ready" in line:
                break
        else:
            pytest.fail(f"the demo stopped before it was ready (exit code {demo.wait()})")
        # Its children write to the same pipe: read on, or a full pipe blocks their stop.
        threading.Thread(target=demo.stdout.read, daemon=True).start()
        time.sleep(2)  # qcluster's workers are up
        if signum == signal.SIGTERM:
            _serves_as_production_does(demo_ports_of(demo.args))
        children = _descendants(demo.pid)
        assert len(children) >= 6  # simlab, qcluster and its workers, daphne
        demo.send_signal(signum)
        assert demo.wait(timeout=30) == 0
        deadline = time.monotonic() + 5
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(children)
    finally:
        if demo.poll() is None:
            demo.kill()


def demo_ports_of(command: list[str]) -> int:
    return int(next(arg for arg in command if arg.startswith("--port=")).split("=")[1])


def _serves_as_production_does(port: int) -> None:
    """Without DEBUG: the stylesheets load, a 404 is the panel's page and lists no URLs."""
    base = f"http://127.0.0.1:{port}"
    page = urllib.request.urlopen(f"{base}/login/", timeout=10).read().decode()  # noqa: S310
    stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page)
    assert stylesheets
    for href in stylesheets:
        with urllib.request.urlopen(base + href, timeout=10) as response:  # noqa: S310
            assert response.headers["Content-Type"].startswith("text/css")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/no-such-page/", timeout=10)  # noqa: S310
    assert missing.value.code == 404
    body = missing.value.read().decode()
    assert "URLconf" not in body and "api/v1/" not in body
