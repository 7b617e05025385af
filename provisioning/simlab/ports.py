"""Is a port free? Checked before the demo starts anything, so a taken port is one clear line
instead of a child's traceback and a panel serving without its BMCs."""

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Listener:
    """Ports `first`..`first + count - 1` that something the demo starts will listen on."""

    what: str  # "the web panel", "simlab's BMCs", ...
    protocol: str  # "tcp" or "udp"
    host: str
    first: int
    count: int
    option: str  # the command-line option that moves it
    variable: str  # the environment variable that moves it

    @property
    def ports(self) -> range:
        return range(self.first, self.first + self.count)


def is_free(protocol: str, host: str, port: int) -> bool:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        if protocol == "tcp":
            # As servers do: a port left in TIME_WAIT by an earlier run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def taken(listeners: list[Listener]) -> str | None:
    """One line naming the first port in use and how to move it; None when all are free."""
    for listener in listeners:
        if listener.first < 1 or listener.ports[-1] > 65535:
            return f"{listener.what}: ports {listener.first}-{listener.ports[-1]} are out of range."
        for port in listener.ports:
            if not is_free(listener.protocol, listener.host, port):
                return (
                    f"Port {port}/{listener.protocol} on {listener.host} ({listener.what}) is in "
                    f"use: choose another with {listener.option} or {listener.variable}."
                )
    return None
