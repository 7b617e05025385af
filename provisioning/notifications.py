"""Mail when an operation ends: queued after the commit that ended it, sent by a worker.

It goes to the server's owner (to whoever asked for it on a server nobody owns), unless they
turned it off (User.notify_by_email). A mail that cannot be queued or sent is logged, never
raised: the operation has ended either way.
"""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from redis.exceptions import RedisError

from panel.broker import queue_task
from provisioning.models import Operation
from provisioning.selectors import login_details

log = logging.getLogger(__name__)
SEND_TASK = "provisioning.tasks.mail_operation_ended"


def operation_ended(op: Operation) -> None:
    """Called in the transaction that ended `op`."""
    transaction.on_commit(lambda: queue(op.pk))


def queue(operation_id: int) -> None:
    try:
        queue_task(SEND_TASK, operation_id, task_name=f"operation-mail-{operation_id}")
    except (RedisError, DatabaseError) as exc:
        log.error("Could not queue the mail about operation %s: %s", operation_id, exc)


def recipients(op: Operation) -> list[str]:
    person = op.server.owner or op.requested_by
    if person is None or not person.is_active or not person.notify_by_email:
        return []
    return [person.email]


def message(op: Operation) -> tuple[str, str]:
    """(subject, plain-text body)."""
    server = op.server.name
    subject = f"{op.get_kind_display()} · {server}: {op.get_state_display().lower()}"
    link = reverse("operation", args=[op.pk])
    body = render_to_string(
        "portal/mail/operation_ended.txt",
        {
            "op": op,
            "login": login_details(op),
            "url": f"{settings.PANEL_PORTAL_URL}{link}" if settings.PANEL_PORTAL_URL else "",
        },
    )
    return subject, body


def send(operation_id: int) -> int:
    """The worker's part: how many people were mailed (0 when the mail failed)."""
    op = Operation.objects.select_related("server__owner", "requested_by").get(pk=operation_id)
    to = recipients(op)
    if not to:
        return 0
    subject, body = message(op)
    try:
        return send_mail(subject, body, None, to) and len(to)
    except (smtplib.SMTPException, OSError) as exc:
        log.error("Could not mail %s about operation %s: %s", to, operation_id, exc)
        return 0
