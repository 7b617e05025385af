from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory import ipam, services
from inventory.addresses import normalise_mac
from inventory.api.serializers import (
    ConfigurationSerializer,
    IpAddressSerializer,
    IpAllocationSerializer,
    IpPoolSerializer,
    LocationSerializer,
    NetworkSerializer,
    OwnerSerializer,
    PduOutletSerializer,
    PduSerializer,
    ServerSerializer,
    SwitchPortSerializer,
    SwitchSerializer,
)
from inventory.models import (
    Bmc,
    HardwareProfile,
    IpAddress,
    IpPool,
    Location,
    Network,
    Pdu,
    PduOutlet,
    Server,
    Switch,
    SwitchPort,
)
from panel.api.filters import BooleanFilter, PanelFilterSet, UpdatedSinceFilter
from panel.api.pagination import PageOrCursorPagination
from panel.api.permissions import AdminWritesOnly, IsAdminRole
from panel.api.views import PanelViewSet


class ConfigurationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """Hardware profiles with how many servers of each are free to sell."""

    serializer_class = ConfigurationSerializer
    search_fields = ["name", "cpu"]
    filterset_fields = ["disk_kind"]

    def get_queryset(self):
        return HardwareProfile.objects.with_server_counts().order_by("name")


class LocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """Data centre locations, for everyone signed in: customers pick where to buy."""

    serializer_class = LocationSerializer
    queryset = Location.objects.order_by("name")
    search_fields = ["name"]


class MacAddressField(forms.CharField):
    """Any common MAC spelling (aa:bb.., AA-BB-.., aabb.ccdd.eeff), compared as stored."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        try:
            return normalise_mac(value)
        except DjangoValidationError as exc:
            raise forms.ValidationError(exc.messages, code="invalid") from exc


class MacAddressFilter(filters.CharFilter):
    field_class = MacAddressField


class IpAddressFilterField(filters.CharFilter):
    """An exact IPv4 or IPv6 address (IPv6 in any spelling); anything else is a 400."""

    field_class = forms.GenericIPAddressField


SERVER_CHANGES = (
    "Servers changed at or after this ISO 8601 time: name, configuration, placement, MAC, "
    "serial, state, owner, suspension, installed OS, hardware facts, notes, BMC settings, or "
    "an address allocated, released or made main. Power readings are not changes (GET "
    "/servers/{id}/power/). A removed server is simply absent: compare the ids of a full "
    "list now and then."
)


class ServerFilter(PanelFilterSet):
    configuration = filters.CharFilter(field_name="profile__name")
    name = filters.CharFilter(
        field_name="name", lookup_expr="iexact", help_text="Exact name, in any case"
    )
    mac = MacAddressFilter(
        field_name="mac", help_text="The PXE MAC, exactly, in any usual spelling"
    )
    ip = IpAddressFilterField(
        method="filter_ip", help_text="Servers with this exact address (any of theirs, main or not)"
    )
    updated_since = UpdatedSinceFilter(help_text=SERVER_CHANGES)
    location = filters.ModelChoiceFilter(
        field_name="rack__location", queryset=Location.objects.all()
    )
    power_state = filters.ChoiceFilter(
        field_name="bmc__power_state", choices=Bmc.PowerState.choices
    )
    free = BooleanFilter(method="filter_free", label="Free to sell")

    class Meta:
        model = Server
        fields = ["state", "rack", "owner", "suspended"]

    def filter_ip(self, queryset, name, value):
        return queryset.with_address(value)

    def filter_free(self, queryset, name, value):
        if value:
            return queryset.free()  # on the list's own rows: the partial index serves it
        return queryset.exclude(pk__in=Server.objects.free().values("pk"))


class ServerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PanelViewSet,
):
    """Servers: customers see their own; staff enrol, change and remove them."""

    serializer_class = ServerSerializer
    permission_classes = [*PanelViewSet.permission_classes, AdminWritesOnly]
    pagination_class = PageOrCursorPagination
    cursor_ordering = "id"
    filterset_class = ServerFilter
    search_fields = ["name"]
    search_help = (
        "Servers whose name starts with this (any case), or whose address or PXE MAC is "
        "exactly this. Served by indexes: a prefix, not a part of the name."
    )
    ordering_fields = ["name", "created_at", "updated_at", "state"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return (
            Server.objects.visible_to(self.request.user)
            .select_related("profile", "rack__location", "owner", "bmc")
            .with_connections()
            .order_by("name")
        )

    def search_queryset(self, queryset, term: str):
        return queryset.search(term)

    def _fresh(self, server: Server) -> Server:
        return self.get_queryset().get(pk=server.pk)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        server = services.enrol_server(actor=self.request.user, **data)
        serializer.instance = self._fresh(server)

    def perform_update(self, serializer):
        server = services.update_server(
            actor=self.request.user, server=serializer.instance, **serializer.validated_data
        )
        serializer.instance = self._fresh(server)

    def perform_destroy(self, instance):
        services.delete_server(actor=self.request.user, server=instance)

    @extend_schema(request=OwnerSerializer, responses=ServerSerializer, methods=["POST"])
    @extend_schema(request=None, responses={200: ServerSerializer}, methods=["DELETE"])
    @action(detail=True, methods=["post", "delete"])
    def owner(self, request, pk=None):
        """Assign the server to a customer (POST) or take it back (DELETE)."""
        server = self.get_object()
        if request.method == "DELETE":
            server = services.release_owner(actor=request.user, server=server)
        else:
            payload = OwnerSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            server = services.assign_owner(
                actor=request.user, server=server, owner=payload.validated_data["owner"]
            )
        return Response(ServerSerializer(self._fresh(server)).data)


@extend_schema(parameters=[OpenApiParameter("server_pk", int, OpenApiParameter.PATH)])
class ServerIpViewSet(mixins.ListModelMixin, PanelViewSet):
    """A server's addresses: the owner reads them, staff allocate and release."""

    serializer_class = IpAddressSerializer
    permission_classes = [*PanelViewSet.permission_classes, AdminWritesOnly]

    def server(self) -> Server:
        return get_object_or_404(
            Server.objects.visible_to(self.request.user), pk=self.kwargs["server_pk"]
        )

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return IpAddress.objects.none()
        return IpAddress.objects.filter(server=self.server()).select_related(
            "pool__network", "server"
        )

    @extend_schema(request=IpAllocationSerializer, responses={201: IpAddressSerializer})
    def create(self, request, server_pk=None):
        payload = IpAllocationSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        allocated = ipam.allocate_ip(
            actor=request.user, server=self.server(), **payload.validated_data
        )
        fresh = IpAddress.objects.select_related("pool__network", "server").get(pk=allocated.pk)
        return Response(IpAddressSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={204: None}, parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)]
    )
    def destroy(self, request, server_pk=None, pk=None):
        ip = get_object_or_404(self.get_queryset(), pk=pk)
        ipam.release_ip(actor=request.user, ip=ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NetworkViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PanelViewSet
):
    """Networks (staff only)."""

    serializer_class = NetworkSerializer
    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    queryset = Network.objects.order_by("family", "cidr")
    filterset_fields = ["family", "vlan", "location", "boot"]
    search_fields = ["name", "cidr", "description"]

    def perform_create(self, serializer):
        serializer.instance = ipam.create_network(
            actor=self.request.user, **serializer.validated_data
        )


class IpPoolViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PanelViewSet
):
    """Address pools with their usage (staff only)."""

    serializer_class = IpPoolSerializer
    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    filterset_fields = ["network", "is_public"]
    search_fields = ["name"]

    def get_queryset(self):
        return IpPool.objects.with_usage().select_related("network").order_by("pk")

    def perform_create(self, serializer):
        pool = ipam.create_pool(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=pool.pk)


class IpAddressFilter(PanelFilterSet):
    network = filters.ModelChoiceFilter(field_name="pool__network", queryset=Network.objects.all())
    updated_since = UpdatedSinceFilter(
        help_text="Addresses allocated or changed (made main or not) at or after this ISO 8601 "
        "time. A released address is gone, not listed as changed; its server is listed as "
        "changed (GET /servers/?updated_since=), so read that server's addresses again."
    )

    class Meta:
        model = IpAddress
        fields = ["server", "pool", "family", "is_main", "status"]


class IpAddressViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """Every address in use: customers see those of their own servers."""

    serializer_class = IpAddressSerializer
    filterset_class = IpAddressFilter
    search_fields = ["address", "server__name"]

    def get_queryset(self):
        return (
            IpAddress.objects.visible_to(self.request.user)
            .select_related("pool__network", "server")
            .order_by("family", "address")
        )


class StaffWriteViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PanelViewSet,
):
    """Staff-only objects whose every write goes through a service: `store(obj, serializer)`
    stores the new or changed object, `remove(obj)` deletes it."""

    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        saved = self.store(serializer.Meta.model(), serializer)
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_update(self, serializer):
        saved = self.store(serializer.instance, serializer)
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance):
        self.remove(instance)

    @staticmethod
    def assign(obj, serializer):
        for name, value in serializer.validated_data.items():
            setattr(obj, name, value)
        return obj


class SnmpDeviceViewSet(StaffWriteViewSet):
    search_fields = ["name", "address"]
    filterset_fields = ["location", "snmp_version", "reachable"]

    def store(self, device, serializer):
        secrets = serializer.secrets()
        return services.save_snmp_device(
            actor=self.request.user, device=self.assign(device, serializer), secrets=secrets
        )

    def remove(self, device):
        services.delete_snmp_device(actor=self.request.user, device=device)


class SwitchViewSet(SnmpDeviceViewSet):
    """Switches (staff only); the SNMP secrets are write-only."""

    serializer_class = SwitchSerializer

    def get_queryset(self):
        return Switch.objects.annotate(port_count=Count("ports")).order_by("name")


class PduViewSet(SnmpDeviceViewSet):
    """PDUs (staff only); the SNMP secrets are write-only."""

    serializer_class = PduSerializer
    filterset_fields = [*SnmpDeviceViewSet.filterset_fields, "profile"]

    def get_queryset(self):
        return Pdu.objects.annotate(outlet_count=Count("outlets")).order_by("name")


class ConnectionPointViewSet(StaffWriteViewSet):
    def remove(self, point):
        services.delete_connection_point(actor=self.request.user, point=point)


class SwitchPortFilter(PanelFilterSet):
    connected = BooleanFilter(field_name="server", lookup_expr="isnull", exclude=True)

    class Meta:
        model = SwitchPort
        fields = ["switch", "server", "is_ipmi_connection", "admin_status", "oper_status"]


class SwitchPortViewSet(ConnectionPointViewSet):
    """Switch ports (staff only). PATCH `server` (null to disconnect) and
    `is_ipmi_connection` to connect a server's NIC or BMC."""

    serializer_class = SwitchPortSerializer
    filterset_class = SwitchPortFilter
    search_fields = ["name", "description", "switch__name", "server__name"]

    def get_queryset(self):
        return SwitchPort.objects.select_related("switch", "server").order_by(
            "switch__name", "if_index", "name"
        )

    def store(self, port, serializer):
        return services.save_switch_port(
            actor=self.request.user, port=self.assign(port, serializer)
        )


class PduOutletFilter(PanelFilterSet):
    connected = BooleanFilter(field_name="server", lookup_expr="isnull", exclude=True)

    class Meta:
        model = PduOutlet
        fields = ["pdu", "server", "power_state"]


class PduOutletViewSet(ConnectionPointViewSet):
    """PDU outlets (staff only). PATCH `server` (null to disconnect) to say which server's
    power supply an outlet feeds."""

    serializer_class = PduOutletSerializer
    filterset_class = PduOutletFilter
    search_fields = ["name", "pdu__name", "server__name"]

    def get_queryset(self):
        return PduOutlet.objects.select_related("pdu", "server").order_by("pdu__name", "number")

    def store(self, outlet, serializer):
        return services.save_pdu_outlet(
            actor=self.request.user, outlet=self.assign(outlet, serializer)
        )
