from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from panel.api.filters import PanelFilterSet
from panel.api.permissions import IsAdminRole
from panel.api.views import PanelViewSet
from webhooks import services
from webhooks.api.serializers import (
    CreatedSubscriptionSerializer,
    DeliverySerializer,
    QueuedDeliverySerializer,
    SubscriptionSerializer,
)
from webhooks.models import EVENT_TYPES, PING, Delivery, Subscription

STAFF_ONLY = [*PanelViewSet.permission_classes, IsAdminRole]


class SubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PanelViewSet,
):
    """Webhooks to billing systems (staff only); the secret is write-only."""

    queryset = Subscription.objects.all()
    serializer_class = SubscriptionSerializer
    permission_classes = STAFF_ONLY
    filterset_fields = ["active"]
    search_fields = ["name", "url"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(responses={201: CreatedSubscriptionSerializer})
    def create(self, request, *args, **kwargs):
        """A new webhook; the answer carries its secret, this once."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, secret = services.create_subscription(
            actor=request.user, **serializer.validated_data
        )
        answer = CreatedSubscriptionSerializer(subscription).data
        return Response({**answer, "secret": secret}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.update_subscription(
            actor=self.request.user, subscription=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_subscription(actor=self.request.user, subscription=instance)

    @extend_schema(request=None, responses={202: QueuedDeliverySerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        """Queue a `ping` event to this webhook only, to test the receiver; see its deliveries
        for the outcome."""
        delivery = services.ping(actor=request.user, subscription=self.get_object())
        return Response(QueuedDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryFilter(PanelFilterSet):
    event_type = filters.ChoiceFilter(
        field_name="event__type", choices=[(name, name) for name in (*EVENT_TYPES, PING)]
    )
    event_id = filters.UUIDFilter(field_name="event_id")

    class Meta:
        model = Delivery
        fields = ["status"]


@extend_schema(parameters=[OpenApiParameter("webhook_pk", int, OpenApiParameter.PATH)])
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PanelViewSet):
    """A webhook's delivery log, newest first (staff only)."""

    serializer_class = DeliverySerializer
    permission_classes = STAFF_ONLY
    filterset_class = DeliveryFilter

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        get_object_or_404(Subscription, pk=self.kwargs["webhook_pk"])  # its webhook, or 404

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        webhook = self.kwargs["webhook_pk"]
        return Delivery.objects.filter(subscription_id=webhook).select_related("event")

    @extend_schema(request=None, responses={202: QueuedDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, webhook_pk=None, pk=None):
        """Send this delivery again, whatever its status (receivers deduplicate by event id)."""
        delivery = services.redeliver(actor=request.user, delivery=self.get_object())
        return Response(QueuedDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
