"""The demo's child processes: each in its own process group, so that stopping one stops what
it started too (qcluster's workers, simlab's racks), and none outlives the demo."""

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

STOP_SECONDS = 5
KILL_SECONDS = 2


class StopRequested(Exception):
    """Ctrl-C or SIGTERM, seen where the caller checks (never raised inside a library call:
    an exception there, between Popen.poll's lock and its release, hangs Popen.wait)."""


class ChildExited(Exception):
    def __init__(self, name: str, code: int):
        super().__init__(f"{name} stopped (exit code {code}); see its output above.")


@dataclass
class Child:
    name: str
    process: subprocess.Popen

    def group_alive(self) -> bool:
        self.process.poll()  # reap the leader, which would otherwise count as alive
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class Children:
    def __init__(self):
        self.running: list[Child] = []
        self.stop_requested = threading.Event()

    def ask_to_stop(self, *_signal) -> None:
        """A signal handler: only sets a flag, which check() and pause() act on."""
        self.stop_requested.set()

    def pause(self, seconds: float) -> None:
        self.stop_requested.wait(seconds)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        child = Child(name, process)
        self.running.append(child)
        return child

    def check(self) -> None:
        """Raise StopRequested once asked to stop, ChildExited when one of them has stopped (it
        could not bind its port...)."""
        if self.stop_requested.is_set():
            raise StopRequested
        for child in self.running:
            code = child.process.poll()
            if code is not None:
                raise ChildExited(child.name, code)

    def stop(self, seconds: float = STOP_SECONDS) -> None:
        """SIGTERM to every group, then SIGKILL to what is left after `seconds`."""
        for child in self.running:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while any(child.group_alive() for child in self.running) and time.monotonic() < deadline:
            time.sleep(0.1)
        for child in self.running:
            child.signal_group(signal.SIGKILL)
            child.process.wait()
        # A SIGKILLed worker is gone a moment later, once init reaps it: wait for that too.
        deadline = time.monotonic() + KILL_SECONDS
        while any(child.group_alive() for child in self.running) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.running = []
