"""Wording filters for the portal's pages and mails."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from provisioning.models import Operation

register = template.Library()


@register.filter
def read_ago(moment: datetime | None) -> str:
    """'just now' under a minute, else '3 minutes ago' (never '0 minutes ago')."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def midsentence(label: str) -> str:
    """A label as it reads inside a sentence: 'Disk wipe' -> 'disk wipe', 'OS installation'
    keeps its acronym."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first[1].isupper():
        return label
    return label[:1].lower() + label[1:]


@register.filter
def operation_kind(kind: str) -> str:
    """An operation's kind as people read it ('power_cycle' -> 'Power cycle')."""
    return Operation.Kind(kind).label if kind in Operation.Kind.values else kind
