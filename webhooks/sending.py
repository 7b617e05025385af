"""One HTTP POST to a receiver, bounded: a dead or slow receiver costs a worker at most the
connect timeout plus the total one, never more."""

import http.client
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "Metalpanel-Webhooks/1"
ANSWER_KEPT = 300  # characters of a refusing receiver's answer kept in the delivery log


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all
    error: str  # "" when the receiver took it (2xx)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Deadline:
    def __init__(self, seconds: float):
        self.ends = time.monotonic() + seconds

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body`; redirects are not followed (a receiver that moved is a failure to see)."""
    parts = urlsplit(url)
    total = _Deadline(settings.PANEL_WEBHOOK_TIMEOUT)
    connect = min(settings.PANEL_WEBHOOK_CONNECT_TIMEOUT, settings.PANEL_WEBHOOK_TIMEOUT)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=connect, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=connect)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection.connect()
        sock = connection.sock  # kept: the connection lets go of it once a response closes
        sock.settimeout(total.left())
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        sock.settimeout(total.left())
        response = connection.getresponse()
        sock.settimeout(total.left())
        text = response.read(ANSWER_KEPT).decode("utf-8", "replace")
    except TimeoutError:
        return Answer(None, f"No answer within {settings.PANEL_WEBHOOK_TIMEOUT:g} s.")
    except ssl.SSLError as exc:
        return Answer(None, f"TLS failed: {exc}")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Answer(response.status, "")
    return Answer(response.status, f"HTTP {response.status} {response.reason}: {text}".strip())
