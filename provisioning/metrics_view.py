"""GET /metrics for Prometheus: staff (an API token, or a staff session) or a scraper on a
network listed in PANEL_METRICS_ALLOWED_CIDRS."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from panel.api.authentication import ApiTokenAuthentication
from panel.sources import client_address, in_networks
from provisioning import metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _staff_token(request) -> bool:
    try:
        found = ApiTokenAuthentication().authenticate(Request(request))
    except AuthenticationFailed:
        return False
    return found is not None and found[0].is_staff


def may_read(request) -> bool:
    if in_networks(client_address(request), settings.PANEL_METRICS_ALLOWED_CIDRS):
        return True
    return request.user.is_staff or _staff_token(request)


@require_GET
def metrics_view(request):
    if not may_read(request):
        return HttpResponseForbidden("Staff token or an allowed network only.\n", "text/plain")
    return HttpResponse(metrics.exposition(metrics.collect()), content_type=CONTENT_TYPE)
