"""Reads about operations that pages, mails and the API share."""

from dataclasses import dataclass

from inventory.models import IpAddress
from panel.sshkeys import parse_public_key
from provisioning.models import Operation


@dataclass(frozen=True)
class LoginDetails:
    """How to log in to a server an install has just finished on."""

    address: str | None
    user: str
    keys: list[tuple[str, str]]  # (name, SHA256 fingerprint) of each key put on the server
    password: bool  # the root password the requester chose (never stored in the clear)


def login_details(op: Operation) -> LoginDetails | None:
    """For a succeeded install only: its main address (IPv4 first), root, the keys, the password."""
    if op.kind != Operation.Kind.INSTALL or op.state != Operation.State.SUCCEEDED:
        return None
    main = (
        IpAddress.objects.filter(server_id=op.server_id, is_main=True)
        .order_by("family", "pk")
        .values_list("address", flat=True)
        .first()
    )
    installed = zip(op.params.get("ssh_key_names", []), op.params.get("ssh_keys", []), strict=True)
    keys = [(name, parse_public_key(line).fingerprint) for name, line in installed]
    return LoginDetails(
        address=main, user="root", keys=keys, password=bool(op.params.get("root_password"))
    )
