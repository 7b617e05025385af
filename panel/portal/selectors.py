"""What the portal pages read: bounded queries, visibility decided by visible_to()."""

from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.shortcuts import get_object_or_404

from inventory.models import IpAddress, Server
from provisioning.models import Operation, OperationEvent

POWER_FILTERS = ("on", "off", "unknown")


def server_list(user, *, search: str = "", power: str = ""):
    """The user's servers with main IPv4 and active operation, in a fixed number of queries."""
    active = Operation.objects.active().filter(server=OuterRef("pk")).order_by("-pk")
    servers = (
        Server.objects.visible_to(user)
        .select_related("profile", "rack__location", "bmc")
        .with_main_ipv4()
        .annotate(
            active_operation_id=Subquery(active.values("pk")[:1]),
            active_operation_kind=Subquery(active.values("kind")[:1]),
            active_operation_progress=Subquery(active.values("progress")[:1]),
        )
        .order_by("name")
    )
    if search:
        servers = servers.filter(
            Q(name__icontains=search)
            | Q(ip_addresses__address__startswith=search)
            | Q(current_os__icontains=search)
            | Q(profile__name__icontains=search)
        ).distinct()
    if power == "unknown":
        servers = servers.filter(Q(bmc__isnull=True) | Q(bmc__power_state="unknown"))
    elif power in POWER_FILTERS:
        servers = servers.filter(bmc__power_state=power)
    return servers


def server_detail(user, pk: int) -> Server:
    """One of the user's servers with what its page shows (Http404 for anyone else's)."""
    return get_object_or_404(
        Server.objects.visible_to(user)
        .select_related("profile", "rack__location", "bmc")
        .prefetch_related(
            Prefetch("ip_addresses", IpAddress.objects.select_related("pool__network")),
        ),
        pk=pk,
    )


def recent_operations(server: Server, limit: int = 20):
    events = OperationEvent.objects.order_by("created_at", "pk")
    return (
        Operation.objects.filter(server=server)
        .select_related("requested_by")
        .prefetch_related(Prefetch("events", events))
        .order_by("-pk")[:limit]
    )
