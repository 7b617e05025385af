from django.urls import re_path
from rest_framework.routers import DefaultRouter

from panel.api import views


class OptionalSlashRouter(DefaultRouter):
    """API paths answer with and without their trailing slash: a redirect would lose a POST's
    body. The schema names each path once, with the slash."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


def register(router: DefaultRouter) -> list:
    router.register("users", views.UserViewSet, basename="user")
    router.register("ssh-keys", views.SshKeyViewSet, basename="sshkey")
    router.register("audit-events", views.AuditEventViewSet, basename="auditevent")
    routes = []
    for segment, viewset, name in [
        ("ssh-keys", views.UserSshKeyViewSet, "user-sshkey"),
        ("api-tokens", views.UserApiTokenViewSet, "user-apitoken"),
    ]:
        prefix = rf"^users/(?P<user_pk>[0-9]+)/{segment}"
        routes += [
            re_path(
                rf"{prefix}{router.trailing_slash}$",
                viewset.as_view({"get": "list", "post": "create"}),
                name=f"{name}-list",
            ),
            re_path(
                rf"{prefix}/(?P<pk>[0-9]+){router.trailing_slash}$",
                viewset.as_view({"delete": "destroy"}),
                name=f"{name}-detail",
            ),
        ]
    return routes
