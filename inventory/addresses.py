"""MAC and IP address parsing, device addresses and the host name rule (models, services, API)."""

import ipaddress
import re

from django.core.exceptions import ValidationError

_HEX_MAC = re.compile(r"^[0-9a-f]{12}$")
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
HOST_NAME_RULE = (
    "A server name is a host name: 1 to 63 lower-case letters a-z, digits and hyphens, "
    "not starting or ending with a hyphen, no dots (RFC 1123)."
)


def validate_host_name(value: str) -> None:
    """A server's name is the host name its installer sets, so it is one RFC 1123 label.

    One label, no dots: preseed asks the host name and the domain separately
    (`netcfg/get_hostname`, `netcfg/get_domain`), dnsmasq's `dhcp-host` takes a bare name,
    and the domain belongs to the customer's DNS, not to the inventory. Lower-case, so two
    servers can never differ only in case, which DNS would not tell apart.
    """
    if not isinstance(value, str) or not _HOST_NAME.fullmatch(value):
        raise ValidationError(HOST_NAME_RULE, code="host_name")


def validate_device_address(value: str) -> str:
    """A BMC's, switch's or PDU's address: an IP address or a DNS name; returns it stripped."""
    value = (value or "").strip()
    if not _is_ip(value) and not _DNS_NAME.match(value):
        raise ValidationError("Enter an IP address or a host name.", code="address")
    return value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def normalise_mac(value: str) -> str:
    """Lower-case, colon-separated: accepts aa:bb:.., AA-BB-.., aabb.ccdd.eeff and aabbccddeeff."""
    digits = re.sub(r"[:\-.\s]", "", (value or "").strip().lower())
    if not _HEX_MAC.match(digits):
        raise ValidationError(f'"{value}" is not a MAC address (expected six hex pairs).')
    if int(digits[:2], 16) & 1:
        raise ValidationError(f'"{value}" is a multicast MAC, not a network card\'s address.')
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def parse_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=True)
    except ValueError as exc:
        raise ValidationError(
            f'"{value}" is not a network in CIDR notation with its host bits zero '
            "(e.g. 203.0.113.0/24 or 2001:db8::/64)."
        ) from exc


def parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError as exc:
        raise ValidationError(f'"{value}" is not an IP address.') from exc
