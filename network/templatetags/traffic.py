"""The traffic panel of a server page (the portal's and the admin's) and its number formats."""

from django import template
from django.conf import settings
from django.utils import timezone

from network.traffic.selectors import month_bounds, month_usage, server_traffic, visible_start

register = template.Library()

_BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"]
_RATE_UNITS = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"]


def _decimal(value: float, units: list[str]) -> str:
    index = 0
    while abs(value) >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.0f} {units[0]}" if index == 0 else f"{value:.2f} {units[index]}"


@register.filter
def volume(octets: int | None) -> str:
    """1234567890 -> "1.23 GB" (decimal units, as billing counts)."""
    return "—" if octets is None else _decimal(octets, _BYTE_UNITS)


@register.filter
def rate(bps: int | None) -> str:
    """12345678 -> "12.35 Mbit/s"."""
    return "—" if bps is None else _decimal(bps, _RATE_UNITS)


@register.inclusion_tag("network/traffic_panel.html", takes_context=True)
def traffic_panel(context, server):
    """The month so far (volume, 95th) and the chart, which its script fills from the API;
    for a customer who got the server this month, only since then."""
    now = timezone.now()
    month = now.date().replace(day=1)
    start, _ = month_bounds(month)
    since = visible_start(server, context["request"].user, start)
    if since == start:
        usage = month_usage(month, server_ids=[server.pk]).get(server.pk)
    else:
        usage = server_traffic(server, start=since, end=now).usage if since < now else None
    return {
        "server": server,
        "month": month,
        "usage": usage if usage and usage.samples_expected else None,
        "slot": slot_length(settings.PANEL_TRAFFIC_POLL_SECONDS),
    }


def slot_length(seconds: int) -> str:
    """300 -> "5-minute", 60 -> "1-minute", 3600 -> "60-minute" (a slot's length, as an
    adjective)."""
    return f"{seconds // 60}-minute" if seconds % 60 == 0 else f"{seconds}-second"
