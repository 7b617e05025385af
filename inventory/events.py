"""How webhook events (webhooks.events.publish) name a server: the ids and names a billing
system keys on, never a secret."""

from inventory.models import Bmc, Server
from panel.models import User

UNSET = object()


def server_data(server: Server, owner: User | None = UNSET) -> dict:
    """The server and its owner (or `owner`, e.g. the one it was just released from)."""
    owner = server.owner if owner is UNSET else owner
    return {
        "server": {"id": server.pk, "name": server.name},
        "owner": {"id": owner.pk, "email": owner.email} if owner else None,
    }


def bmc_data(bmc: Bmc) -> dict:
    return {
        **server_data(bmc.server),
        "bmc": {"address": bmc.address, "port": bmc.port, "last_error": bmc.last_error},
    }
