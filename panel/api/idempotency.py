"""Idempotency-Key for POSTs and DELETEs: billing systems retry, and a retry must not act
twice (nor get a 404 for a DELETE whose first answer was lost).

The first request with a key claims it (a row under a unique constraint, committed
before the work starts); its answer is stored and replayed to any retry with the
same body within the TTL. Another body under the same key is a 409.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from panel import encryption
from panel.exceptions import Conflict
from panel.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A claim whose request never finished (its process died) may be taken over after this.
ABANDONED_AFTER = timedelta(minutes=2)


class Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        super().__init__(record.key)
        self.record = record


def request_fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def claim(*, user, key: str, fingerprint: str) -> IdempotencyRecord:
    """Claim `key` for this request, or raise Replay / Conflict for a repeated one."""
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError(
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} visible characters."]}
        )
    now = timezone.now()
    IdempotencyRecord.objects.filter(
        user=user,
        key=key,
        created_at__lt=now - timedelta(hours=settings.PANEL_IDEMPOTENCY_TTL_HOURS),
    ).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                user=user, key=key, request_fingerprint=fingerprint, created_at=now
            )
    except IntegrityError:
        existing = IdempotencyRecord.objects.get(user=user, key=key)
    if existing.request_fingerprint != fingerprint:
        raise Conflict(f"This {HEADER} was already used for a different request.")
    if existing.response_status is not None:
        raise Replay(existing)
    taken_over = IdempotencyRecord.objects.filter(
        pk=existing.pk, response_status__isnull=True, created_at__lt=now - ABANDONED_AFTER
    ).update(created_at=now)
    if taken_over:
        return existing
    raise Conflict(f"A request with this {HEADER} is still being processed; retry shortly.")


# Answers of a request that ran to a decision: replaying them is right. Anything else (a 409
# conflict such as "server busy", a 429, a 5xx) may go otherwise on a retry: the key is freed.
DECIDED = {400, 403, 404, 422}


def settle(record: IdempotencyRecord, response: Response) -> None:
    """Store the answer to replay, or free the key when a retry may be answered otherwise.
    An answer marked `holds_secret` (a console link) is never stored: a retry gets a new one."""
    decided = 200 <= response.status_code < 300 or response.status_code in DECIDED
    if not decided or getattr(response, "holds_secret", False):
        record.delete()
        return
    record.response_status = response.status_code
    record.response_body = _sealed(response)
    record.save(update_fields=["response_status", "response_body"])


# Where a stored answer keeps its secret fields, encrypted.
SEALED = "_sealed"


def _sealed(response: Response):
    """The answer to store: the fields its view named in `response.secret_fields` (a
    one-time password shown once) encrypted, so a retry still gets them and the database
    never holds them in clear."""
    secret = [name for name in getattr(response, "secret_fields", ()) if response.data.get(name)]
    if not secret:
        return response.data
    sealed = {name: encryption.encrypt(response.data[name]) for name in secret}
    return {**response.data, **dict.fromkeys(secret), SEALED: sealed}


def _opened(body):
    if not isinstance(body, dict) or SEALED not in body:
        return body
    opened = {name: value for name, value in body.items() if name != SEALED}
    return {**opened, **{name: encryption.decrypt(text) for name, text in body[SEALED].items()}}


# The writes a retry could repeat: a POST acts again, a DELETE answers 404 the second time.
IDEMPOTENT_METHODS = ("POST", "DELETE")


class IdempotentWritesMixin:
    """For API views: POSTs and DELETEs with an Idempotency-Key header are done once."""

    def initial(self, request, *args, **kwargs):
        self._idempotency_record = None
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if request.method in IDEMPOTENT_METHODS and key is not None:
            self._idempotency_record = claim(
                user=request.user, key=key, fingerprint=request_fingerprint(request)
            )

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            stored = exc.record.response_body
            response = Response(_opened(stored), status=exc.record.response_status)
            response["Idempotent-Replayed"] = "true"
            if isinstance(stored, dict) and SEALED in stored:
                response["Cache-Control"] = "no-store"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            settle(record, response)
        return response
