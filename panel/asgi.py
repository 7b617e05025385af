"""ASGI entry point: `daphne panel.asgi:application`. It serves the panel's WebSockets (the
serial console) and, for a one-process setup such as the demo, its HTTP pages too."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
http = get_asgi_application()  # sets Django up before the consumers import models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from panel.serving import settle_garbage_collector  # noqa: E402
from provisioning.consumers import ConsoleConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path(
                            "ws/servers/<int:server_id>/console/",
                            ConsoleConsumer.as_asgi(),
                            name="console-socket",
                        )
                    ]
                )
            )
        ),
    }
)
settle_garbage_collector()
