"""Reads about operations that pages, mails and the API share."""

from dataclasses import dataclass
from datetime import datetime

from inventory.models import IpAddress
from panel.sshkeys import parse_public_key
from provisioning.models import Operation, RescueSession


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


@dataclass(frozen=True)
class RescueState:
    """A server in the rescue system, and how to log in to it."""

    operation_id: int
    started_at: datetime
    expires_at: datetime
    address: str | None
    ssh_keys: list[dict]
    password: bool
    user: str = "root"

    @property
    def login(self) -> str:
        means = []
        if self.ssh_keys:
            means.append("your SSH keys")
        if self.password:
            means.append("the one-time password you were shown")
        where = f"ssh root@{self.address}" if self.address else "SSH as root to its address"
        return (
            f"{where} with {' or '.join(means)}, or the server's console; until "
            f"{self.expires_at:%Y-%m-%d %H:%M} UTC, when it boots its disk again."
        )


def rescue_state(server) -> RescueState | None:
    """The server's rescue, if it is in one: from `current_rescues` when the list prefetched
    it (and its address from `ip_list`), else read here."""
    current = getattr(server, "current_rescues", None)
    if current is None:
        current = list(RescueSession.objects.current().filter(server=server)[:1])
    if not current:
        return None
    session = current[0]
    addresses = getattr(server, "ip_list", None)
    if addresses is None:
        addresses = IpAddress.objects.filter(server=server).order_by("family", "pk")
    main = next((ip.address for ip in addresses if ip.is_main), None)
    return RescueState(
        operation_id=session.operation_id,
        started_at=session.started_at,
        expires_at=session.expires_at,
        address=main,
        ssh_keys=[{"name": name, "fingerprint": print_} for name, print_ in session.ssh_keys],
        password=session.password,
    )
