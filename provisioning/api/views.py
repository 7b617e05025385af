from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.api.views import ServerViewSet
from panel.api.views import PanelViewSet
from provisioning import powersync, services
from provisioning.api.serializers import (
    BootDeviceRequestSerializer,
    OperationDetailSerializer,
    OperationSerializer,
    PowerRequestSerializer,
    PowerStateSerializer,
    ServerWithOperationSerializer,
    TaskAcceptedSerializer,
)
from provisioning.bmc import BmcError
from provisioning.models import Operation

# Owners may power their own servers: only sign-in is checked here; the queryset makes
# others' servers 404 and the service checks ownership again.
OWNERS_MAY = PanelViewSet.permission_classes


def accepted(operation: Operation) -> Response:
    return Response(
        {"id": operation.server_id, "task": operation.pk}, status=status.HTTP_202_ACCEPTED
    )


class OperatedServerViewSet(ServerViewSet):
    """Servers with their active operation, power and boot-device control."""

    serializer_class = ServerWithOperationSerializer

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .prefetch_related(
                Prefetch("operations", Operation.objects.active(), to_attr="active_operations")
            )
        )

    @extend_schema(
        methods=["GET"],
        responses=PowerStateSerializer,
        parameters=[OpenApiParameter("refresh", bool, description="Read the BMC now")],
    )
    @extend_schema(
        methods=["POST"], request=PowerRequestSerializer, responses={202: TaskAcceptedSerializer}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=OWNERS_MAY,
    )
    def power(self, request, pk=None):
        """Power state (GET) or a power action (POST: on, off, soft_off, reset, cycle)."""
        server = self.get_object()
        if request.method == "POST":
            payload = PowerRequestSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            return accepted(
                services.request_power(actor=request.user, server=server, **payload.validated_data)
            )
        bmc = server.bmc
        error = bmc.last_error
        if request.query_params.get("refresh", "").lower() in ("1", "true", "yes"):
            try:
                powersync.read_now(bmc)
                error = ""
            except BmcError as exc:
                error = exc.message
        return Response(
            PowerStateSerializer(
                {
                    "power_state": bmc.power_state,
                    "read_at": bmc.power_state_read_at,
                    "reachable": bmc.reachable,
                    "last_seen": bmc.last_seen,
                    "error": error,
                }
            ).data
        )

    @extend_schema(request=BootDeviceRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="boot-device",
        permission_classes=OWNERS_MAY,
    )
    def boot_device(self, request, pk=None):
        """Set the boot device for the next boot (or every boot, with persistent)."""
        server = self.get_object()
        payload = BootDeviceRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return accepted(
            services.request_boot_device(
                actor=request.user, server=server, **payload.validated_data
            )
        )


class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """Operations (jobs) on servers; customers see those on their own servers."""

    filterset_fields = ["server", "state", "kind"]
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        queryset = Operation.objects.visible_to(self.request.user).select_related(
            "server", "requested_by"
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("events")
        return queryset

    def get_serializer_class(self):
        return OperationDetailSerializer if self.action == "retrieve" else OperationSerializer

    @extend_schema(request=None, responses=OperationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel an operation no worker has started yet."""
        operation = services.cancel_operation(actor=request.user, operation=self.get_object())
        return Response(OperationSerializer(operation).data)
