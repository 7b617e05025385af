"""DCImanager v3's calls, each a thin translation to the panel's own services and selectors:
the same visibility (customers see their own servers), the same checks, audit and
idempotency as /api/v1/; other names and shapes only."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Prefetch, QuerySet, Value
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from dci import selectors
from dci.api import serializers as dci
from dci.api.base import TAG, DciView
from dci.api.lists import Field, select
from inventory import ipam
from inventory import services as inventory
from inventory.models import (
    HardwareProfile,
    IpAddress,
    IpPool,
    Network,
    Server,
)
from panel import services as people
from panel.api.permissions import IsAdminRole
from panel.models import User
from provisioning import services as provisioning
from provisioning.models import Operation, OsTemplate


class StaffOnly(IsAdminRole):
    """Staff only; a server a customer cannot see is the 404 of a missing one, as on /api/v1/
    (only on their own is the answer a 403)."""

    def has_permission(self, request, view):
        if super().has_permission(request, view):
            return True
        if request.user.is_authenticated and isinstance(view, ServerView):
            view.server()
        return False


STAFF_ONLY = [*DciView.permission_classes, StaffOnly]
LIST_PARAMETERS = {"where", "orderby", "limit"}
LIST_SCHEMA = [
    OpenApiParameter(
        "where",
        str,
        description="A condition, e.g. (owner_email IS null) AND is_new EQ false: fields "
        "compared with EQ, NE, GT, GE, LT, LE, CP (a pattern with % and _) or IS [NOT] null, "
        "joined with AND, OR, NOT and parentheses; values 'quoted', numbers, true or false.",
    ),
    OpenApiParameter("orderby", str, description="Fields with asc or desc, e.g. name asc"),
    OpenApiParameter("limit", str, description="offset,count (e.g. 0,100) or a count"),
]


def _is_new(servers: QuerySet) -> QuerySet:
    return servers.annotate(is_new=Value(False))


SERVER_FIELDS = {
    "id": Field("pk", "number"),
    "name": Field("name"),
    "owner": Field("owner_id", "number"),
    "owner_email": Field("owner__email"),
    "configuration": Field("profile__name"),
    "ip": Field("ip_addresses__address", "ip", many=True, sortable=False),
    "state": Field("dci_state", "choice", choices=selectors.SERVER_STATES),
    "location_id": Field("rack__location_id", "number"),
    "mac": Field("mac", "mac"),
    "is_new": Field("is_new", "bool", annotate=_is_new, sortable=False),
}
USER_FIELDS = {"id": Field("pk", "number"), "email": Field("email")}
IP_FIELDS = {
    "id": Field("pk", "number"),
    "name": Field("address", "ip", sortable=False),
    "server": Field("server__name"),
    "network": Field("pool__network__cidr"),
}
CONFIGURATION_FIELDS = {"configuration": Field("name")}
NETWORK_FIELDS = {"id": Field("pk", "number"), "name": Field("name")}
POOL_FIELDS = NETWORK_FIELDS
# DCImanager's names for the fields the panel's services name their errors after.
FIELD_NAMES = {
    "raid": "hdd_raid",
    "os_template": "os_template_id",
    "ssh_keys": "ssh_pub_keys",
    "ssh_key_texts": "ssh_pub_keys",
    "wipe": "clear_hdd",
    "mode": "clear_hdd",
    "phone": "phone_number",
    "address": "ip_name",
    "pool": "ip_pool",
    "network": "ip_net",
    "set_as_main": "set_as_main_ipv4",
}


def _in_dci_terms(call, **kwargs):
    """Call a service; field errors come back under DCImanager's field names."""
    try:
        return call(**kwargs)
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {FIELD_NAMES.get(name, name): messages for name, messages in exc.message_dict.items()}
        ) from None


def _task(operation: Operation) -> Response:
    return Response({"id": operation.server_id, "task": operation.pk})


def servers(user) -> QuerySet:
    """Servers the user may see, with everything DCImanager's server object shows."""
    return selectors.with_dci_state(
        Server.objects.visible_to(user)
        .select_related("profile", "rack__location", "owner", "bmc")
        .with_connections()
    )


def _server_data(user, ids: list[int], *, many: bool):
    """The servers `ids`, in that order, as DCImanager shows them.

    Their operations are read first, the servers after: an operation stores what it did (a
    power state, a suspension) before it ends, so a server read after its operation shows at
    least that. Read the other way round, a billing module saw its power-off complete beside
    the server as it was a moment before (still on)."""
    operations = selectors.latest_operations(ids)
    found = servers(user).in_bulk(ids)
    rows = [found[pk] for pk in ids if pk in found]
    if not rows and not many:
        raise Http404
    context = {"operations": operations, "templates": selectors.templates_by_name(rows)}
    return dci.DciServerSerializer(rows if many else rows[0], many=many, context=context).data


class ServerView(DciView):
    """A call on one server the user may see (another's is a 404, as if it did not exist)."""

    def server(self) -> Server:
        return get_object_or_404(Server.objects.visible_to(self.request.user), pk=self.kwargs["pk"])


class DciList(DciView):
    """A list: `rows()` filtered, sorted and cut by `where`, `orderby` and `limit` on
    `fields`, each row shown by `row_serializer`."""

    query_parameters = LIST_PARAMETERS
    fields: dict[str, Field] = {}
    order: list[str] = ["pk"]
    row_serializer = None

    def rows(self) -> QuerySet:
        raise NotImplementedError

    def present(self, rows: list) -> list:
        return self.row_serializer(rows, many=True).data

    def get(self, request, **kwargs):
        page = select(
            self.rows(),
            request.query_params,
            self.fields,
            default_order=self.order,
            most=settings.PANEL_DCI_LIST_MAX,
        )
        return Response({"list": self.present(page.rows), "size": page.size})


def listing(row_serializer, **options):
    """The schema of a DciList's GET."""
    return extend_schema_view(
        get=extend_schema(
            tags=[TAG], responses=dci.listed(row_serializer), parameters=LIST_SCHEMA, **options
        )
    )


@listing(dci.DciConfigurationSerializer)
class Configurations(DciList):
    """Configurations with their number of free servers."""

    fields, order = CONFIGURATION_FIELDS, ["name"]
    row_serializer = dci.DciConfigurationSerializer

    def rows(self):
        return HardwareProfile.objects.with_server_counts()


@listing(dci.DciServerSerializer, operation_id="dci_server_list")
class Servers(DciList):
    """Servers (customers: their own), filtered with `where` on id, name, owner,
    owner_email, configuration, ip, state, location_id, mac and is_new."""

    fields, order = SERVER_FIELDS, ["name"]

    def rows(self):
        # Only which servers, in which order: `present` reads them after their operations.
        return selectors.with_dci_state(Server.objects.visible_to(self.request.user)).only("pk")

    def present(self, rows):
        return _server_data(self.request.user, [row.pk for row in rows], many=True)


@extend_schema(tags=[TAG], responses=dci.DciServerSerializer)
class ServerDetail(ServerView):
    def get(self, request, pk):
        return Response(_server_data(request.user, [int(pk)], many=False))


@listing(dci.DciUserSerializer)
class Users(DciList):
    """Staff: users, and adding one."""

    permission_classes = STAFF_ONLY
    fields, order = USER_FIELDS, ["email"]
    row_serializer = dci.DciUserSerializer

    def rows(self):
        return User.objects.annotate(server_count=Count("servers"))

    @extend_schema(tags=[TAG], request=dci.DciNewUserSerializer, responses=dci.DciIdSerializer)
    def post(self, request):
        data = self.payload(dci.DciNewUserSerializer)
        role = {value: key for key, value in dci.ROLES.items()}[data.pop("role")]
        user = _in_dci_terms(
            people.create_user,
            actor=request.user,
            email=data["email"],
            password=data.get("password"),
            full_name=data.get("full_name", ""),
            phone=data.get("phone_number", ""),
            role=role,
        )
        return Response({"id": user.pk})


class ServerOwner(ServerView):
    """Staff: hand the server to a user (POST), or take it back (DELETE)."""

    permission_classes = STAFF_ONLY

    @extend_schema(tags=[TAG], request=dci.DciOwnerRequestSerializer, responses=dci.DciIdSerializer)
    def post(self, request, pk):
        server = self.server()
        owner_id = self.payload(dci.DciOwnerRequestSerializer)["owner"]
        owner = User.objects.filter(pk=owner_id).first()
        if owner is None:
            raise ValidationError({"owner": [f"No user has the id {owner_id}."]})
        _in_dci_terms(inventory.assign_owner, actor=request.user, server=server, owner=owner)
        return Response({"id": server.pk})

    @extend_schema(tags=[TAG], request=None, responses=dci.DciIdSerializer)
    def delete(self, request, pk):
        server = inventory.release_owner(actor=request.user, server=self.server())
        return Response({"id": server.pk})


class ServerTask(ServerView):
    """A call that starts an operation from an empty body, e.g. power_on or suspend."""

    start = None  # the service and its options, given to as_view()
    params: dict = {}

    @extend_schema(
        tags=[TAG], request=dci.DciEmptyRequestSerializer, responses=dci.DciTaskSerializer
    )
    def post(self, request, pk):
        server = self.server()
        self.payload(dci.DciEmptyRequestSerializer)
        return _task(self.start(actor=request.user, server=server, **self.params))


class StaffServerTask(ServerTask):
    permission_classes = STAFF_ONLY


@listing(dci.DciListedIpSerializer)
class Ips(DciList):
    """Addresses in use (customers: their servers')."""

    fields, order = IP_FIELDS, ["family", "address"]
    row_serializer = dci.DciListedIpSerializer

    def rows(self):
        return IpAddress.objects.visible_to(self.request.user).select_related(
            "pool__network", "server"
        )


@listing(dci.DciListedIpSerializer)
class ServerIps(ServerView, DciList):
    """The server's addresses (GET), and allocating one (POST, staff)."""

    fields, order = IP_FIELDS, ["-is_main", "family", "pk"]
    row_serializer = dci.DciListedIpSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [permission() for permission in STAFF_ONLY]
        return super().get_permissions()

    def rows(self):
        return IpAddress.objects.filter(server=self.server()).select_related(
            "pool__network", "server"
        )

    @extend_schema(
        tags=[TAG],
        request=dci.DciIpRequestSerializer,
        responses=dci.DciTaskSerializer,
        operation_id="dci_server_ip_allocate",
    )
    def post(self, request, pk):
        server = self.server()
        data = self.payload(dci.DciIpRequestSerializer)
        family = {"ipv4": 4, "ipv6": 6}.get(data.get("family"))
        main = data.get("set_as_main_ipv4")
        allocated = _in_dci_terms(
            ipam.allocate_ip,
            actor=request.user,
            server=server,
            pool=self._chosen(IpPool, data.get("ip_pool"), "ip_pool"),
            network=self._chosen(Network, data.get("ip_net"), "ip_net"),
            address=data.get("ip_name") or None,  # "" is any address, as 0 is any pool
            family=family,
            set_as_main=main if family != 6 else None,
        )
        return Response({"id": allocated.pk, "task": None})

    @staticmethod
    def _chosen(model, pk: int | None, field: str):
        if not pk:  # DCImanager's clients send 0 for "any"
            return None
        found = model.objects.filter(pk=pk).first()
        if found is None:
            raise ValidationError({field: [f"No {model._meta.verbose_name} has the id {pk}."]})
        return found


class ServerIp(ServerView):
    """Staff: release one of the server's addresses (DCImanager deletes with a POST)."""

    permission_classes = STAFF_ONLY

    @extend_schema(
        tags=[TAG], request=dci.DciEmptyRequestSerializer, responses=dci.DciTaskSerializer
    )
    def post(self, request, pk, ip_id):
        server = self.server()
        self.payload(dci.DciEmptyRequestSerializer)
        ip = get_object_or_404(IpAddress.objects.filter(server=server), pk=ip_id)
        released = ip.pk
        ipam.release_ip(actor=request.user, ip=ip)
        return Response({"id": released, "task": None})


@listing(dci.DciNetworkSerializer)
class Networks(DciList):
    """Staff: networks with their usage."""

    permission_classes = STAFF_ONLY
    fields, order = NETWORK_FIELDS, ["family", "cidr"]
    row_serializer = dci.DciNetworkSerializer

    def rows(self):
        return Network.objects.annotate(used_count=Count("pools__addresses")).prefetch_related(
            Prefetch("pools", IpPool.objects.select_related("network"))
        )


@listing(dci.DciPoolSerializer)
class Pools(DciList):
    """Staff: address pools with their usage."""

    permission_classes = STAFF_ONLY
    fields = POOL_FIELDS
    row_serializer = dci.DciPoolSerializer

    def rows(self):
        return IpPool.objects.with_usage().select_related("network")


class Diagnostics(ServerView):
    @extend_schema(
        tags=[TAG], request=dci.DciDiagnosticsRequestSerializer, responses=dci.DciTaskSerializer
    )
    def post(self, request, pk):
        server = self.server()
        data = self.payload(dci.DciDiagnosticsRequestSerializer)
        if data["setup_ipmi"]:
            raise ValidationError(
                {"setup_ipmi": ["The panel does not configure BMCs: enrol the BMC's address."]}
            )
        template_id = data.get("os_template_id")
        utility = OsTemplate.objects.filter(is_utility=True).values_list("pk", flat=True)
        if template_id and template_id not in utility:
            raise ValidationError(
                {"os_template_id": ["Give the utility image's template id, or 0 for it."]}
            )
        operation = _in_dci_terms(
            provisioning.start_diagnostics,
            actor=request.user,
            server=server,
            wipe=data["clear_hdd"],
        )
        return _task(operation)


class ClearHdd(ServerView):
    @extend_schema(
        tags=[TAG], request=dci.DciClearHddRequestSerializer, responses=dci.DciTaskSerializer
    )
    def post(self, request, pk):
        server = self.server()
        mode = self.payload(dci.DciClearHddRequestSerializer)["clear_hdd"]
        if mode == "none":  # as asked: nothing is cleared, so no task is started
            return Response({"id": server.pk, "task": None})
        operation = _in_dci_terms(
            provisioning.start_wipe, actor=request.user, server=server, mode=mode
        )
        return _task(operation)


class InstallOs(ServerView):
    @extend_schema(tags=[TAG], request=dci.DciOsRequestSerializer, responses=dci.DciTaskSerializer)
    def post(self, request, pk):
        server = self.server()
        data = self.payload(dci.DciOsRequestSerializer)
        template = OsTemplate.objects.visible_to(request.user).filter(
            pk=data["os_template_id"], is_utility=False
        )
        if not template.exists():
            raise ValidationError({"os_template_id": ["No such OS template."]})
        operation = _in_dci_terms(
            provisioning.start_install,
            actor=request.user,
            server=server,
            template=template.get(),
            raid=data["hdd_raid"],
            password=data.get("password", ""),
            ssh_key_texts=[key for key in data["ssh_pub_keys"] if key.strip()],
        )
        return _task(operation)
