"""The audit log: every service records its state changes here.

The source address comes from the request being served (set by
`SourceAddressMiddleware`), so services need only the acting user.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models

from panel.models import AuditEvent, User
from panel.sources import client_address

_source_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "source_address", default=None
)


class SourceAddressMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with source_address(client_address(request)):
            return self.get_response(request)


@contextmanager
def source_address(address: str | None) -> Iterator[None]:
    """Audit what happens inside as coming from `address` (for work outside a request: a
    WebSocket's)."""
    token = _source_address.set(address)
    try:
        yield
    finally:
        _source_address.reset(token)


def current_source_address() -> str | None:
    return _source_address.get()


def record(
    *, actor: User | None, action: str, target: models.Model | None = None, **detail
) -> AuditEvent:
    """Append an audit event for `action` on `target` by `actor` (None: the system)."""
    return AuditEvent.objects.create(
        actor=actor if actor and actor.pk else None,
        actor_email=actor.email if actor and actor.pk else "",
        source_ip=_source_address.get(),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        detail=detail,
    )
