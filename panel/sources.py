"""Where a request comes from: the client's IP address, and whether it lies in given networks.

X-Forwarded-For is written by whoever sends the request, so its hops are believed only when
the request arrived from one of the panel's own proxies (PANEL_TRUSTED_PROXY_CIDRS): a
machine that reaches the panel directly (the boot network does) cannot claim another address.
"""

import ipaddress

from django.conf import settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def as_ip(address: str | None) -> IpAddress | None:
    """The address as an IP (IPv4-mapped IPv6, as dual-stack sockets give it, as IPv4)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


def in_networks(address: str | None, cidrs) -> bool:
    ip = as_ip(address)
    return ip is not None and any(ip in ipaddress.ip_network(cidr) for cidr in cidrs)


def client_address(request) -> str | None:
    """The client's IP: the socket's peer, or, from a trusted proxy, the hop as many proxies
    back as PANEL_TRUSTED_PROXY_COUNT says (when it is an IP address)."""
    return forwarded_client(
        request.META.get("REMOTE_ADDR") or None, request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def forwarded_client(peer: str | None, forwarded: str) -> str | None:
    """`client_address` of a connection from `peer` with this X-Forwarded-For (a
    WebSocket's ASGI scope gives both)."""
    hops = settings.PANEL_TRUSTED_PROXY_COUNT
    if hops and forwarded and in_networks(peer, settings.PANEL_TRUSTED_PROXY_CIDRS):
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops and as_ip(chain[-hops]) is not None:
            return str(as_ip(chain[-hops]))
    return peer
