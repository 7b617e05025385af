from provisioning.api import views

SERVER_VIEWSET = views.OperatedServerViewSet


def register(router) -> list:
    router.register("operations", views.OperationViewSet, basename="operation")
    router.register("os-templates", views.OsTemplateViewSet, basename="os-template")
    router.register("images", views.DiskImageViewSet, basename="disk-image")
    return []
