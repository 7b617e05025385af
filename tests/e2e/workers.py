"""Test support: real `qcluster` worker processes on the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connection

from tests.simlab import free_tcp_port

ROOT = Path(__file__).resolve().parents[2]


def worker_environment(**overrides) -> dict:
    """The environment that points a child process at this test run's database and broker."""
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "tests-only-not-a-secret")}
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        env["PANEL_SQLITE_PATH"] = database["NAME"]
        env.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    return {**env, **{key: str(value) for key, value in overrides.items()}}


class PanelProcess:
    """A process of the panel's (worker cluster, web server) in its own process group."""

    def __init__(self, command: list[str], **settings):
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=worker_environment(**settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole cluster (sentinel and workers): no clean-up runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class Qcluster(PanelProcess):
    def __init__(self, **settings):
        super().__init__(
            [sys.executable, "manage.py", "qcluster"], **{"PANEL_WORKERS": 1, **settings}
        )


class WebServer(PanelProcess):
    """A web server of the panel's on a free port, on the test database; `command` gets
    the address to listen on."""

    def __init__(self, command, **settings):
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(command("127.0.0.1", self.port), **settings)
        wait_until(self._answers)

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/login/", timeout=2).close()  # noqa: S310
        except (urllib.error.URLError, OSError):
            return False
        return True


class Gunicorn(WebServer):
    """The panel's HTTP side served by gunicorn."""

    def __init__(self, workers: int = 2, **settings):
        super().__init__(
            lambda host, port: [
                *(sys.executable, "-m", "gunicorn", "panel.wsgi", "-b", f"{host}:{port}"),
                *("-w", str(workers), "--access-logfile", "/dev/null"),
            ],
            **settings,
        )


class Daphne(WebServer):
    """The panel's ASGI side (its pages and the console's WebSockets) served by daphne."""

    def __init__(self, **settings):
        super().__init__(
            lambda host, port: [
                *(sys.executable, "-m", "daphne", "-b", host, "-p", str(port)),
                "panel.asgi:application",
            ],
            **settings,
        )


class RedisServer:
    """A redis-server of the test's own on a free port, that the test can stop and start."""

    def __init__(self):
        self.port = free_tcp_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers)

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def wait_until(condition, timeout: float = 30, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
