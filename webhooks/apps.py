from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed HTTP callbacks to billing systems, delivered by the workers after commit."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Webhooks"
