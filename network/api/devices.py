"""Switches and PDUs with their discovery action, served in place of inventory's viewsets."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from inventory.api.views import PduViewSet, SwitchViewSet
from network import discovery
from network.snmp import SnmpError
from panel.api.serializers import StrictSerializer


class DeviceUnavailable(APIException):
    """The device, not the panel, failed: a 409 (its state prevents the request) with the
    reason, as a busy server's is; 5xx stays for the panel's own faults."""

    status_code = 409
    default_detail = "The device did not answer as asked."
    default_code = "device_unavailable"


class DiscoveryReportSerializer(StrictSerializer):
    created = serializers.ListField(child=serializers.CharField(), help_text="New ports/outlets")
    updated = serializers.ListField(child=serializers.CharField())
    vanished = serializers.ListField(
        child=serializers.CharField(),
        help_text="No longer in the walk: kept, with their connections, but not driven",
    )
    unchanged = serializers.IntegerField()


class DiscoveryErrorSerializer(StrictSerializer):
    detail = serializers.CharField()


class Discovers:
    @extend_schema(
        request=None, responses={200: DiscoveryReportSerializer, 409: DiscoveryErrorSerializer}
    )
    @action(detail=True, methods=["post"])
    def discover(self, request, pk=None):
        """Walk the device (IF-MIB interfaces, or the PDU's outlet table) and bring its ports
        or outlets up to date; 409 with the reason when it does not answer."""
        try:
            report = discovery.discover(actor=request.user, device=self.get_object())
        except SnmpError as exc:
            raise DeviceUnavailable(exc.message) from None
        return Response(DiscoveryReportSerializer(report).data)


class DiscoveredSwitchViewSet(Discovers, SwitchViewSet):
    """Switches (staff only); the SNMP secrets are write-only."""


class DiscoveredPduViewSet(Discovers, PduViewSet):
    """PDUs (staff only); the SNMP secrets are write-only."""
