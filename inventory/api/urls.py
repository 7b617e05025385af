from django.urls import path

from inventory.api import views


def register(router) -> list:
    """Add inventory's endpoints to the v1 router; returns the nested routes."""
    router.register("configurations", views.ConfigurationViewSet, basename="configuration")
    router.register("servers", views.ServerViewSet, basename="server")
    router.register("networks", views.NetworkViewSet, basename="network")
    router.register("pools", views.IpPoolViewSet, basename="pool")
    router.register("ips", views.IpAddressViewSet, basename="ip")
    server_ips = views.ServerIpViewSet.as_view({"get": "list", "post": "create"})
    server_ip = views.ServerIpViewSet.as_view({"delete": "destroy"})
    return [
        path("servers/<int:server_pk>/ips/", server_ips, name="server-ips"),
        path("servers/<int:server_pk>/ips/<int:pk>/", server_ip, name="server-ip"),
    ]
