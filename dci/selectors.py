"""Reads in DCImanager's terms, computed from the panel's own data in a constant number of
queries: a server's `state` (its suspension, in DCImanager's vocabulary), its current or last
operation, and the OS template it runs."""

from django.db.models import Case, CharField, OuterRef, Q, QuerySet, Subquery, Value, When

from inventory.models import Server
from provisioning.models import Operation, OsTemplate

Kind, State = Operation.Kind, Operation.State
PORT_KINDS = (Kind.SUSPEND, Kind.RESUME)
# state: what DCImanager says while, and after, its switch ports are shut or opened again.
SERVER_STATES = ("suspending", "suspended", "suspend_error", "resuming", "ok", "resume_error")


def with_dci_state(servers: QuerySet) -> QuerySet:
    """Annotate `dci_state` and `dci_state_info` from the suspended flag and the latest
    suspend or resume operation."""
    latest = (
        Operation.objects.filter(server=OuterRef("pk"), kind__in=PORT_KINDS)
        # Since the current owner has the server: a new customer inherits no old error.
        .filter(Q(server__owner_since__isnull=True) | Q(created_at__gte=OuterRef("owner_since")))
        .order_by("-created_at", "-pk")
    )
    servers = servers.annotate(
        port_kind=Subquery(latest.values("kind")[:1]),
        port_state=Subquery(latest.values("state")[:1]),
        port_error=Subquery(latest.values("error")[:1]),
    )
    active = Operation.ACTIVE_STATES
    return servers.annotate(
        dci_state=Case(
            When(port_state__in=active, port_kind=Kind.SUSPEND, then=Value("suspending")),
            When(port_state__in=active, port_kind=Kind.RESUME, then=Value("resuming")),
            When(port_state=State.FAILED, port_kind=Kind.SUSPEND, then=Value("suspend_error")),
            When(port_state=State.FAILED, port_kind=Kind.RESUME, then=Value("resume_error")),
            When(suspended=True, then=Value("suspended")),
            default=Value("ok"),
            output_field=CharField(),
        )
    )


def state_info(server: Server) -> str:
    """Why the server is in its state: the suspension's reason or the failed operation's
    error; empty when it is ok."""
    if server.dci_state in ("suspend_error", "resume_error"):
        return server.port_error or ""
    if server.suspended:
        return server.suspend_reason
    return ""


def latest_operations(server_ids: list[int]) -> dict[int, Operation]:
    """Each server's running operation, or else its last one: a billing module polls it to
    see its task finish. (A server runs one operation at a time, so its newest is the one
    running, if any.)"""
    newest = (
        Operation.objects.filter(server=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")
    )
    ids = (
        Server.objects.filter(pk__in=server_ids)
        .annotate(operation_id=Subquery(newest[:1]))
        .values_list("operation_id", flat=True)
    )
    operations = Operation.objects.filter(pk__in=[pk for pk in ids if pk is not None])
    return {operation.server_id: operation for operation in operations}


def templates_by_name(servers: list[Server]) -> dict[str, OsTemplate]:
    """The OS templates the servers were last installed with (a server keeps the name)."""
    names = {server.current_os for server in servers if server.current_os}
    return {template.name: template for template in OsTemplate.objects.filter(name__in=names)}
