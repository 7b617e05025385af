"""Whether a switch or PDU answers, kept on its row as a BMC's is: discovery, the port sync
and operations all record here. A device that stays silent twice in a row is unreachable
and read less often (exponential backoff, capped); one that answers with an error (a
refused write, wrong v3 keys) is reachable, with the error kept for staff."""

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.utils import timezone

from inventory.models import SnmpDevice
from network.snmp import SnmpError, SnmpUnreachable
from panel import polling

T = TypeVar("T")
FIELDS = ["reachable", "last_seen", "last_error", "consecutive_failures", "next_poll_at"]


def _interval() -> timedelta:
    return timedelta(seconds=settings.PANEL_NETWORK_SYNC_SECONDS)


def ask(device: SnmpDevice, request: Callable[[], T]) -> T:
    """Run one request to the device and record whether it answered; its SnmpError is
    recorded and raised."""
    try:
        result = request()
    except SnmpError as exc:
        failed(device, exc)
        raise
    answered(device)
    return result


def answered(device: SnmpDevice) -> None:
    now = timezone.now()
    device.reachable, device.last_seen, device.last_error = True, now, ""
    device.consecutive_failures = 0
    device.next_poll_at = now + _interval()
    _save(device)


def failed(device: SnmpDevice, error: SnmpError) -> None:
    now = timezone.now()
    device.consecutive_failures += 1
    device.last_error = error.message[:500]
    if not isinstance(error, SnmpUnreachable):
        device.reachable, device.last_seen = True, now
    elif device.consecutive_failures >= polling.UNREACHABLE_AFTER_FAILURES:
        device.reachable = False
    device.next_poll_at = polling.next_poll_after_failure(
        now, _interval(), device.consecutive_failures
    )
    _save(device)


def _save(device: SnmpDevice) -> None:
    """A device deleted meanwhile keeps nothing."""
    type(device).objects.filter(pk=device.pk).update(
        **{name: getattr(device, name) for name in FIELDS}
    )
