"""A billing system's webhook receiver on 127.0.0.1, and the workers' side of the queue."""

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from pathlib import Path

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from webhooks import services

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_tests-only-signing-secret"


def documented_verify():
    """`verify` exactly as docs/webhooks.md shows it to receivers."""
    (code,) = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation's example
    return namespace["verify"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    """Verifies each request with the documented code, processes an event id once (what a
    receiver must do: delivery is at least once), then answers the next of `answers` (200
    when none are left). Created stopped: `start()` brings it up on its port."""

    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.port = free_port()
        self.verify = documented_verify()
        self.requests: list[dict] = []  # every request: headers, body, signature valid
        self.processed: list[dict] = []  # each event once
        self.answers: list[int] = []
        self.delay = 0.0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/metalpanel"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.handle(dict(self.headers), body)
                time.sleep(receiver.delay)
                status = receiver.answers.pop(0) if receiver.answers else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the panel stopped waiting (a slow-receiver test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def handle(self, headers: dict, body: bytes) -> None:
        try:
            event = self.verify(self.secret, headers["Metalpanel-Signature"], body)
        except ValueError:
            self.requests.append({"headers": headers, "body": body, "valid": False})
            return
        self.requests.append({"headers": headers, "body": body, "valid": True})
        if event["id"] not in {seen["id"] for seen in self.processed}:
            self.processed.append(event)

    def events(self, event_type: str | None = None) -> list[dict]:
        return [event for event in self.processed if event_type in (None, event["type"])]

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def subscribe(admin):
    """A subscription of the receiver's, to `event_types` (none: every event but opt-ins)."""

    def subscribe(receiver: Receiver, *event_types: str, **fields):
        subscription, _ = services.create_subscription(
            actor=admin,
            name=fields.pop("name", "billing"),
            url=receiver.url,
            event_types=list(event_types),
            secret=fields.pop("secret", receiver.secret),
            **fields,
        )
        return subscription

    return subscribe


@pytest.fixture(autouse=True)
def empty_queue():
    """Each test starts with an empty task queue: Redis (the PostgreSQL + Redis run) keeps
    what earlier tests queued, as the database does not."""
    get_broker().purge_queue()


def run_webhook_tasks() -> int:
    """What a django-q2 worker does with the queue: take each task and run it (webhook tasks;
    others, e.g. operations, are taken off and left to their own tests). Returns how many
    webhook tasks ran."""
    broker = get_broker()
    ran = 0
    while tasks := broker.dequeue():
        for ack_id, pack in tasks:
            task = SignedPackage.loads(pack)
            if task["func"].startswith("webhooks."):
                module, name = task["func"].rsplit(".", 1)
                getattr(import_module(module), name)(*task["args"], **task["kwargs"])
                ran += 1
            broker.acknowledge(ack_id)
    return ran


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what waits for the commit (queueing the deliveries), as the
    end of a real transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def body_of(request: dict) -> dict:
    return json.loads(request["body"])
