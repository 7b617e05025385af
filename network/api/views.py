from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from inventory.models import Server
from network.api.serializers import (
    MonthQuerySerializer,
    ServerMonthTrafficSerializer,
    ServerTrafficSerializer,
    TrafficRangeQuerySerializer,
)
from network.traffic import selectors
from panel.api.permissions import IsAdminRole
from panel.api.views import PanelViewSet


@extend_schema(parameters=[OpenApiParameter("server_pk", int, OpenApiParameter.PATH)])
class ServerTrafficViewSet(PanelViewSet):
    """A server's traffic: its owner and staff; anyone else gets the 404 of a missing one."""

    serializer_class = ServerTrafficSerializer
    query_serializer_class = TrafficRangeQuerySerializer
    filter_backends = []
    pagination_class = None

    def get_queryset(self):
        return Server.objects.visible_to(self.request.user)

    @extend_schema(parameters=[TrafficRangeQuerySerializer])
    def retrieve(self, request, server_pk=None):
        """Rates (bit/s per slot, null for gaps), volume in/out/total and the 95th
        percentile in/out/max over [from, to) (default: the current month, UTC), summed
        over the server's data ports. A customer sees it from when the server became theirs."""
        server = get_object_or_404(self.get_queryset(), pk=server_pk)
        query = TrafficRangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        end = query.validated_data["end"]
        start = min(
            selectors.visible_start(server, request.user, query.validated_data["start"]), end
        )
        traffic = selectors.server_traffic(server, start=start, end=end)
        return Response(ServerTrafficSerializer(traffic).data)


class TrafficMonthViewSet(PanelViewSet):
    """Every server with traffic in a month, for billing's monthly run (staff only)."""

    serializer_class = ServerMonthTrafficSerializer
    permission_classes = [*PanelViewSet.permission_classes, IsAdminRole]
    query_serializer_class = MonthQuerySerializer
    filter_backends = []

    def get_queryset(self):
        return Server.objects.none()

    @extend_schema(parameters=[MonthQuerySerializer])
    def list(self, request):
        """Servers by name with the month's volume, 95th in/out/max (max(in95, out95), what
        is billed) and samples; an ended month comes from its rollups."""
        query = MonthQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_data["month"]
        page = self.paginate_queryset(selectors.servers_with_traffic(month))
        usage = selectors.usage_for(month, page)
        for server in page:
            server.usage = usage[server.pk]
        return self.get_paginated_response(ServerMonthTrafficSerializer(page, many=True).data)
