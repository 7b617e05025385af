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
    return []
