"""The staff dashboard: the datacenter at a glance, in a handful of queries."""

from django.contrib import admin
from django.db.models import Count
from django.template.response import TemplateResponse

from inventory.models import Bmc, HardwareProfile, Server
from provisioning.models import Operation

RECENT = 20


def _counts(rows, field: str) -> dict:
    return dict(rows.values_list(field).annotate(n=Count("pk")).values_list(field, "n"))


def datacenter_summary() -> dict:
    by_state = _counts(Server.objects, "state")
    by_power = _counts(Bmc.objects, "power_state")
    operations = Operation.objects.select_related("server", "requested_by").order_by("-pk")
    return {
        "servers_total": sum(by_state.values()),
        # (value, label, count): the value makes each count a link to the filtered list.
        "by_state": [
            (value, label, by_state.get(value, 0)) for value, label in Server.State.choices
        ],
        "by_power": [
            (value, label, by_power.get(value, 0)) for value, label in Bmc.PowerState.choices
        ],
        "suspended": Server.objects.filter(suspended=True).count(),
        "profiles": HardwareProfile.objects.with_server_counts().order_by("name"),
        "running": operations.filter(state__in=Operation.ACTIVE_STATES)[:RECENT],
        "failed": operations.filter(state=Operation.State.FAILED)[:RECENT],
        "unreachable": Bmc.objects.filter(reachable=False)
        .select_related("server")
        .order_by("-consecutive_failures")[:RECENT],
    }


def dashboard(request):
    context = {**admin.site.each_context(request), "title": "Dashboard", **datacenter_summary()}
    return TemplateResponse(request, "admin/dashboard.html", context)
