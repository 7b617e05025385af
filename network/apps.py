from django.apps import AppConfig


class NetworkConfig(AppConfig):
    """The panel's SNMP side: switch and PDU drivers, discovery, port states and traffic."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "network"
