from django.db.models import Count
from django_filters import rest_framework as filters
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404

from panel import services
from panel.api.filters import PanelFilterSet
from panel.api.idempotency import IdempotentPostMixin
from panel.api.permissions import IsAdminRole
from panel.api.serializers import AuditEventSerializer, SshKeySerializer, UserSerializer
from panel.models import AuditEvent, SshKey, User


class PanelViewSet(IdempotentPostMixin, viewsets.GenericViewSet):
    """Base of every API viewset: POSTs honour Idempotency-Key; query parameters the request
    does not read are refused."""

    # An action's own query parameters, e.g. @action(query_serializer_class=...).
    query_serializer_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.query_parameters())
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})

    def query_parameters(self) -> set[str]:
        """What the schema documents: a list's pages, filters, search and ordering."""
        names = set(self.query_serializer_class().fields) if self.query_serializer_class else set()
        if self.action == "list":
            sources = [self.paginator, *(backend() for backend in self.filter_backends)]
            names.update(*(source.query_parameters(self) for source in sources if source))
        return names

    def check_visible(self) -> None:
        """404 unless the user may see the object the URL names (a nested view's
        get_queryset answers 404 itself for a parent they cannot see)."""
        queryset = self.get_queryset()
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup in self.kwargs:
            get_object_or_404(queryset, **{self.lookup_field: self.kwargs[lookup]})


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    PanelViewSet,
):
    """Staff manage people: customers and other staff."""

    serializer_class = UserSerializer
    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    filterset_fields = ["role", "is_active"]
    search_fields = ["email", "full_name", "phone"]
    ordering_fields = ["email", "date_joined"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return User.objects.annotate(server_count=Count("servers")).order_by("email")

    def perform_create(self, serializer):
        serializer.instance = services.create_user(
            actor=self.request.user, **serializer.validated_data
        )
        serializer.instance.server_count = 0

    def perform_update(self, serializer):
        user = services.update_user(
            actor=self.request.user, user=serializer.instance, **serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=user.pk)


class SshKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    PanelViewSet,
):
    """Your own SSH public keys, offered when you install a server."""

    serializer_class = SshKeySerializer
    search_fields = ["name", "fingerprint"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SshKey.objects.none()
        return SshKey.objects.filter(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.add_ssh_key(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_ssh_key(actor=self.request.user, key=instance)


class AuditEventFilter(PanelFilterSet):
    since = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "target_type", "target_id"]


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """Every state change, newest first (staff only)."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    filterset_class = AuditEventFilter
    search_fields = ["action", "actor_email", "target_repr"]
