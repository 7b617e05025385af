from rest_framework.routers import DefaultRouter

from panel.api import views


def register(router: DefaultRouter) -> list:
    router.register("users", views.UserViewSet, basename="user")
    router.register("ssh-keys", views.SshKeyViewSet, basename="sshkey")
    router.register("audit-events", views.AuditEventViewSet, basename="auditevent")
    return []
