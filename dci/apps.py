from django.apps import AppConfig


class DciConfig(AppConfig):
    """The DCImanager v3-compatible API: an adapter over the panel's own services, so billing
    modules written for ISPsystem DCImanager drive the panel unchanged."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "dci"
    verbose_name = "DCImanager-compatible API"
