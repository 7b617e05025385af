from django.urls import re_path

from network.api import devices, views

SWITCH_VIEWSET = devices.DiscoveredSwitchViewSet
PDU_VIEWSET = devices.DiscoveredPduViewSet


def register(router) -> list:
    """Add the traffic endpoints to the v1 router; returns the nested route."""
    router.register("traffic", views.TrafficMonthViewSet, basename="traffic")
    server_traffic = views.ServerTrafficViewSet.as_view({"get": "retrieve"})
    # 18 digits at most: a larger id would overflow the database's integer, and is no server.
    path = rf"^servers/(?P<server_pk>[0-9]{{1,18}})/traffic{router.trailing_slash}$"
    return [re_path(path, server_traffic, name="server-traffic")]
