"""DCImanager v3's paths, as its billing modules call them: no trailing slash (one is
accepted too)."""

from django.urls import re_path

from dci.api import views
from provisioning import services as provisioning


def _server(call: str, view, name: str):
    return re_path(rf"^dci/v3/server/(?P<pk>[0-9]{{1,9}})/{call}/?$", view, name=f"dci-{name}")


def _task(call: str, view_class, start, **params):
    return _server(call, view_class.as_view(start=start, params=params), call)


urlpatterns = [
    re_path(
        r"^dci/v3/server/configuration/?$",
        views.Configurations.as_view(),
        name="dci-configurations",
    ),
    re_path(r"^dci/v3/server/?$", views.Servers.as_view(), name="dci-servers"),
    re_path(
        r"^dci/v3/server/(?P<pk>[0-9]{1,9})/?$", views.ServerDetail.as_view(), name="dci-server"
    ),
    re_path(r"^dci/v3/user/?$", views.Users.as_view(), name="dci-users"),
    _server("owner", views.ServerOwner.as_view(), "owner"),
    _task("suspend", views.StaffServerTask, provisioning.request_suspend),
    _task("resume", views.StaffServerTask, provisioning.request_resume),
    _task("power_on", views.ServerTask, provisioning.request_power, action="on"),
    _task("power_off", views.ServerTask, provisioning.request_power, action="off"),
    _task("power_reset", views.ServerTask, provisioning.request_power, action="reset"),
    re_path(r"^dci/v3/ip/?$", views.Ips.as_view(), name="dci-ips"),
    _server("ip", views.ServerIps.as_view(), "server-ips"),
    re_path(
        r"^dci/v3/server/(?P<pk>[0-9]{1,9})/ip/(?P<ip_id>[0-9]{1,9})/?$",
        views.ServerIp.as_view(),
        name="dci-server-ip",
    ),
    _server("operation_diag", views.Diagnostics.as_view(), "diagnostics"),
    _server("operation_clear_hdd", views.ClearHdd.as_view(), "clear-hdd"),
    _server("operation_os", views.InstallOs.as_view(), "install"),
    re_path(r"^ip/v3/ipnet/?$", views.Networks.as_view(), name="dci-networks"),
    re_path(r"^ip/v3/ippool/?$", views.Pools.as_view(), name="dci-pools"),
]
