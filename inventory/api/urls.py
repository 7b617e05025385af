from django.urls import re_path

from inventory.api import views


def register(router, server_viewset=views.ServerViewSet) -> list:
    """Add inventory's endpoints to the v1 router; returns the nested routes.

    `server_viewset` lets a higher layer (provisioning) serve servers with more actions.
    """
    router.register("configurations", views.ConfigurationViewSet, basename="configuration")
    router.register("servers", server_viewset, basename="server")
    router.register("networks", views.NetworkViewSet, basename="network")
    router.register("pools", views.IpPoolViewSet, basename="pool")
    router.register("ips", views.IpAddressViewSet, basename="ip")
    router.register("switches", views.SwitchViewSet, basename="switch")
    router.register("pdus", views.PduViewSet, basename="pdu")
    router.register("switch-ports", views.SwitchPortViewSet, basename="switchport")
    router.register("pdu-outlets", views.PduOutletViewSet, basename="pduoutlet")
    server_ips = views.ServerIpViewSet.as_view({"get": "list", "post": "create"})
    server_ip = views.ServerIpViewSet.as_view({"delete": "destroy"})
    server = r"^servers/(?P<server_pk>[0-9]+)/ips"
    return [
        re_path(rf"{server}{router.trailing_slash}$", server_ips, name="server-ips"),
        re_path(rf"{server}/(?P<pk>[0-9]+){router.trailing_slash}$", server_ip, name="server-ip"),
    ]
