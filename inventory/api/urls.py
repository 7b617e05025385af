from django.urls import re_path

from inventory.api import views


def register(
    router,
    server_viewset=views.ServerViewSet,
    switch_viewset=views.SwitchViewSet,
    pdu_viewset=views.PduViewSet,
) -> list:
    """Add inventory's endpoints to the v1 router; returns the nested routes.

    The viewsets given let higher layers serve them with more actions: provisioning's
    servers start operations, network's switches and PDUs discover their ports.
    """
    router.register("configurations", views.ConfigurationViewSet, basename="configuration")
    router.register("locations", views.LocationViewSet, basename="location")
    router.register("servers", server_viewset, basename="server")
    router.register("networks", views.NetworkViewSet, basename="network")
    router.register("pools", views.IpPoolViewSet, basename="pool")
    router.register("ips", views.IpAddressViewSet, basename="ip")
    router.register("switches", switch_viewset, basename="switch")
    router.register("pdus", pdu_viewset, basename="pdu")
    router.register("switch-ports", views.SwitchPortViewSet, basename="switchport")
    router.register("pdu-outlets", views.PduOutletViewSet, basename="pduoutlet")
    server_ips = views.ServerIpViewSet.as_view({"get": "list", "post": "create"})
    server_ip = views.ServerIpViewSet.as_view({"delete": "destroy"})
    server = r"^servers/(?P<server_pk>[0-9]+)/ips"
    return [
        re_path(rf"{server}{router.trailing_slash}$", server_ips, name="server-ips"),
        re_path(rf"{server}/(?P<pk>[0-9]+){router.trailing_slash}$", server_ip, name="server-ip"),
    ]
