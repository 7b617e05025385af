from webhooks.api import views


def register(router) -> list:
    """Add the webhook endpoints to the v1 router."""
    router.register("webhooks", views.SubscriptionViewSet, basename="webhook")
    router.register(
        r"webhooks/(?P<webhook_pk>[0-9]{1,18})/deliveries",
        views.DeliveryViewSet,
        basename="webhook-delivery",
    )
    return []
