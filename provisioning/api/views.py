from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.api.views import ServerViewSet
from panel import audit
from panel.api.filters import PanelFilterSet, UpdatedSinceFilter
from panel.api.pagination import PageOrCursorPagination
from panel.api.permissions import AdminWritesOnly
from panel.api.views import PanelViewSet
from panel.models import SshKey
from provisioning import consoles, services
from provisioning.api.serializers import (
    BootDeviceRequestSerializer,
    CaptureAcceptedSerializer,
    CaptureRequestSerializer,
    ConsoleLinkSerializer,
    ConsoleRequestSerializer,
    DiagnosticsRequestSerializer,
    DiskImageSerializer,
    InstallRequestSerializer,
    OperationDetailSerializer,
    OperationSerializer,
    OsTemplateSerializer,
    OutletPowerRequestSerializer,
    PowerQuerySerializer,
    PowerRequestSerializer,
    PowerStateSerializer,
    PublicOsTemplateSerializer,
    RescueAcceptedSerializer,
    RescueExitRequestSerializer,
    RescueRequestSerializer,
    RestoreRequestSerializer,
    ResumeRequestSerializer,
    ServerWithOperationSerializer,
    SuspendRequestSerializer,
    TaskAcceptedSerializer,
    WipeRequestSerializer,
)
from provisioning.bmc import BmcError
from provisioning.models import DiskImage, Operation, OsTemplate, RescueSession

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
                Prefetch("operations", Operation.objects.active(), to_attr="active_operations"),
                Prefetch(
                    "rescue_sessions", RescueSession.objects.current(), to_attr="current_rescues"
                ),
            )
        )

    @extend_schema(
        methods=["GET"], responses=PowerStateSerializer, parameters=[PowerQuerySerializer]
    )
    @extend_schema(
        methods=["POST"], request=PowerRequestSerializer, responses={202: TaskAcceptedSerializer}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=OWNERS_MAY,
        query_serializer_class=PowerQuerySerializer,
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
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        bmc = server.bmc
        error = bmc.last_error
        if query.validated_data["refresh"]:
            try:
                services.refresh_power_state(server=server)
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

    @extend_schema(request=ConsoleRequestSerializer, responses={201: ConsoleLinkSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def console(self, request, pk=None):
        """A link to the server's serial console in the browser: single use, valid 60 s to
        connect, for the caller and this server only (a suspended server's is refused)."""
        server = self.get_object()
        ConsoleRequestSerializer(data=request.data).is_valid(raise_exception=True)
        issued = consoles.issue_console(actor=request.user, server=server)
        page = reverse("server-console", args=[server.pk])
        link = {
            "token": issued.token,
            "url": request.build_absolute_uri(f"{page}?token={issued.token}"),
            "expires_at": issued.session.expires_at,
        }
        response = Response(ConsoleLinkSerializer(link).data, status=status.HTTP_201_CREATED)
        response.holds_secret = True  # never kept for an Idempotency-Key replay
        return response

    @extend_schema(request=InstallRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def install(self, request, pk=None):
        """Reinstall the server's OS over PXE: set network boot, reboot, install, boot disk."""
        server = self.get_object()
        payload = InstallRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        template = OsTemplate.objects.visible_to(request.user).filter(pk=data["os_template"])
        keys = list(
            SshKey.objects.filter(
                user_id__in={request.user.pk, server.owner_id} - {None}, pk__in=data["ssh_keys"]
            )
        )
        errors = {}
        if not template.exists():
            errors["os_template"] = ["No such OS template."]
        if len(keys) != len(set(data["ssh_keys"])):
            errors["ssh_keys"] = [
                "Unknown SSH key: use the ids of saved keys, yours or the server owner's."
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return accepted(
            services.start_install(
                actor=request.user,
                server=server,
                template=template.get(),
                raid=data["raid"],
                password=data.get("password", ""),
                ssh_keys=keys,
                ssh_key_texts=data["ssh_key_texts"],
                reboot=data["reboot"],
                force=data["force"],
            )
        )

    @extend_schema(request=DiagnosticsRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def diagnostics(self, request, pk=None):
        """Boot the utility image: hardware facts, and a disk wipe if asked."""
        return self._start(request, DiagnosticsRequestSerializer, services.start_diagnostics)

    @extend_schema(request=WipeRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def wipe(self, request, pk=None):
        """Erase the server's disks (simple: signatures and first blocks; full: every block)."""
        return self._start(request, WipeRequestSerializer, services.start_wipe)

    @extend_schema(request=CaptureRequestSerializer, responses={202: CaptureAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def capture(self, request, pk=None):
        """Capture the server's disks into a disk image (the agent image streams them to the
        panel), within the owner's quota."""
        server = self.get_object()
        payload = CaptureRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        op, image = services.start_capture(
            actor=request.user, server=server, **payload.validated_data
        )
        answer = accepted(op)
        answer.data["image"] = image.pk
        return answer

    @extend_schema(request=RestoreRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def restore(self, request, pk=None):
        """Write a ready disk image onto the server's disks (400 if one is too small); the
        server then boots its disk."""
        server = self.get_object()
        payload = RestoreRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        image = DiskImage.objects.visible_to(request.user).filter(
            pk=payload.validated_data["image"]
        )
        if not image.exists():
            raise serializers.ValidationError({"image": ["No such image."]})
        return accepted(
            services.start_restore(actor=request.user, server=server, image=image.get())
        )

    @extend_schema(request=SuspendRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Staff: suspend the server (non-payment): its data switch ports are shut and read
        back; its customer's power, reinstall and console requests are refused from now on."""
        return self._start(request, SuspendRequestSerializer, services.request_suspend)

    @extend_schema(request=ResumeRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Staff: lift the suspension; the data switch ports are opened and read back."""
        return self._start(request, ResumeRequestSerializer, services.request_resume)

    @extend_schema(request=OutletPowerRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"], url_path="pdu-power")
    def pdu_power(self, request, pk=None):
        """Staff: switch the PDU outlets feeding the server (the hard power of last resort,
        when its BMC hangs), confirmed by reading the outlets back."""
        return self._start(request, OutletPowerRequestSerializer, services.request_outlet_power)

    @extend_schema(request=RescueRequestSerializer, responses={202: RescueAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=OWNERS_MAY)
    def rescue(self, request, pk=None):
        """Boot the rescue system (the utility image over PXE) that root logs in to with the
        given SSH keys and/or a one-time password, generated and answered here once."""
        server = self.get_object()
        payload = RescueRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        started = services.start_rescue(actor=request.user, server=server, **payload.validated_data)
        answer = {
            "id": server.pk,
            "task": started.operation.pk,
            "password": started.password or None,
        }
        response = Response(
            answer, status=status.HTTP_202_ACCEPTED, headers={"Cache-Control": "no-store"}
        )
        response.secret_fields = ("password",)  # an Idempotency-Key's stored answer: encrypted
        return response

    @extend_schema(request=RescueExitRequestSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"], url_path="rescue/exit", permission_classes=OWNERS_MAY)
    def rescue_exit(self, request, pk=None):
        """Leave the rescue system: the next boot from the disk, then a power cycle."""
        return self._start(request, RescueExitRequestSerializer, services.request_rescue_exit)

    def _start(self, request, serializer_class, start) -> Response:
        server = self.get_object()
        payload = serializer_class(data=request.data)
        payload.is_valid(raise_exception=True)
        return accepted(start(actor=request.user, server=server, **payload.validated_data))


class OsTemplateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PanelViewSet,
):
    """OS templates: customers list the public ones; staff manage them all."""

    permission_classes = [*PanelViewSet.permission_classes, AdminWritesOnly]
    filterset_fields = ["family"]
    search_fields = ["name", "description"]

    def get_queryset(self):
        return OsTemplate.objects.visible_to(self.request.user)

    def get_serializer_class(self):
        if self.request.user.is_authenticated and self.request.user.is_admin:
            return OsTemplateSerializer
        return PublicOsTemplateSerializer

    def perform_create(self, serializer):
        template = serializer.save()
        audit.record(actor=self.request.user, action="os_template.create", target=template)

    def perform_update(self, serializer):
        template = serializer.save()
        audit.record(actor=self.request.user, action="os_template.update", target=template)

    def perform_destroy(self, template):
        services.delete_os_template(actor=self.request.user, template=template)


class OperationFilter(PanelFilterSet):
    updated_since = UpdatedSinceFilter(
        help_text="Operations queued or changed at or after this ISO 8601 time: state, step, "
        "progress, a cancel request, the result or error. Finished ones are kept for "
        "PANEL_RETAIN_OPERATIONS_DAYS (a year by default); a server's newest as long as the "
        "server."
    )

    class Meta:
        model = Operation
        fields = ["server", "state", "kind"]


class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """Operations (jobs) on servers; customers see those on their own servers."""

    pagination_class = PageOrCursorPagination
    cursor_ordering = "-id"
    filterset_class = OperationFilter
    ordering_fields = ["created_at", "finished_at", "updated_at"]

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
        """Cancel an operation no worker has started yet, or an install, diagnostics or wipe
        until its machine has fetched its installer config (409 with the reason after)."""
        operation = services.cancel_operation(actor=request.user, operation=self.get_object())
        return Response(OperationSerializer(operation).data)


class DiskImageViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, PanelViewSet
):
    """Disk images: customers see and delete their own, staff all."""

    serializer_class = DiskImageSerializer
    filterset_fields = ["state", "source_server"]
    search_fields = ["name"]

    def get_queryset(self):
        return DiskImage.objects.visible_to(self.request.user).select_related("owner")

    def perform_destroy(self, image):
        services.delete_image(actor=self.request.user, image=image)
