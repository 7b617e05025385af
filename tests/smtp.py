"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests."""

import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.simlab import free_tcp_port


class Mailbox:
    """aiosmtpd's handler: every message delivered, parsed, with its envelope recipients."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int = 1, timeout: float = 30) -> list[EmailMessage]:
        """The first `count` messages, waiting for them to arrive."""
        ends = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = ends - time.monotonic()
                assert left > 0, f"{len(self.messages)} of {count} mails arrived in {timeout} s"
                self.arrived.wait(left)
            return self.messages[:count]


class SmtpServer:
    def __init__(self):
        self.host, self.port = "127.0.0.1", free_tcp_port()
        self.mailbox = Mailbox()
        self.controller = Controller(self.mailbox, hostname=self.host, port=self.port)
        self.controller.start()

    @property
    def settings(self) -> dict:
        """The panel's environment for sending here."""
        return {
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        }

    def stop(self) -> None:
        self.controller.stop()
