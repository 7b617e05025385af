from django.db.models import Count
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from panel import services, twofactor
from panel.api.filters import PanelFilterSet, UpdatedSinceFilter
from panel.api.idempotency import IdempotentWritesMixin
from panel.api.permissions import IsAdminRole
from panel.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditEventSerializer,
    SshKeySerializer,
    UserSerializer,
)
from panel.exceptions import Conflict
from panel.models import ApiToken, AuditEvent, SshKey, User


class PanelViewSet(IdempotentWritesMixin, viewsets.GenericViewSet):
    """Base of every API viewset: POSTs and DELETEs honour Idempotency-Key; query parameters
    the request does not read are refused."""

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


class UserFilter(PanelFilterSet):
    updated_since = UpdatedSinceFilter(
        help_text="Users whose details (email, name, phone, role, active, password) changed at "
        "or after this ISO 8601 time; a sign-in is not a change. Users are never deleted: a "
        "closed account is is_active=false."
    )

    class Meta:
        model = User
        fields = ["role", "is_active"]


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PanelViewSet,
):
    """Staff manage people: customers and other staff. DELETE deactivates: the user can no
    longer sign in nor use their tokens, and their history stays (a second DELETE is a no-op)."""

    serializer_class = UserSerializer
    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    filterset_class = UserFilter
    search_fields = ["email", "full_name", "phone"]
    ordering_fields = ["email", "date_joined", "updated_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return User.objects.annotate(
            server_count=Count("servers"), two_factor_enabled=twofactor.enabled_annotation()
        ).order_by("email")

    def perform_create(self, serializer):
        serializer.instance = services.create_user(
            actor=self.request.user, **serializer.validated_data
        )
        serializer.instance.server_count = 0
        serializer.instance.two_factor_enabled = False

    def perform_update(self, serializer):
        user = services.update_user(
            actor=self.request.user, user=serializer.instance, **serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=user.pk)

    def perform_destroy(self, instance):
        services.deactivate_user(actor=self.request.user, user=instance)


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


class PersonViewSet(PanelViewSet):
    """Staff: what belongs to the person the URL names (`users/{user_pk}/...`)."""

    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]

    def person(self) -> User:
        if not hasattr(self, "_person"):
            self._person = get_object_or_404(User, pk=self.kwargs["user_pk"])
        return self._person


USER_PK = OpenApiParameter("user_pk", int, OpenApiParameter.PATH)
ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


@extend_schema(parameters=[USER_PK])
class UserSshKeyViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, PersonViewSet
):
    """Staff: a person's saved SSH keys, offered when their servers are installed."""

    serializer_class = SshKeySerializer
    search_fields = ["name", "fingerprint"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SshKey.objects.none()
        return SshKey.objects.filter(user=self.person()).select_related("user")

    def perform_create(self, serializer):
        serializer.instance = services.add_ssh_key(
            actor=self.request.user, user=self.person(), **serializer.validated_data
        )

    @extend_schema(parameters=[ID])
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_ssh_key(actor=self.request.user, key=instance)


@extend_schema(parameters=[USER_PK])
class UserApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, PersonViewSet):
    """Staff: a person's API tokens. A new token's key is in the answer to its creation only."""

    serializer_class = ApiTokenSerializer
    search_fields = ["name", "prefix"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.person()).select_related("user")

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request, user_pk=None):
        payload = ApiTokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        token, key = services.create_api_token(
            actor=request.user, user=self.person(), **payload.validated_data
        )
        token.key = key
        response = Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)
        response.secret_fields = ("key",)  # an Idempotency-Key's stored answer: encrypted
        return response

    @extend_schema(parameters=[ID])
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, token):
        if token == self.request.auth:
            raise Conflict("This request is signed with this token; revoke it with another one.")
        services.revoke_api_token(actor=self.request.user, token=token)


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
