"""Installer configs: an OS template rendered for one server and one install.

Templates are edited by staff in the admin, so they render in a sandbox: Django's
template language with autoescape off, no template loaders (no `include` of files
on disk), no tag libraries beyond the built-ins, and a context of plain strings,
numbers, lists and dicts (never a model instance, whose relations would reach other
customers' data). The context's values are not trusted (names, serials, keys, URLs):
templates put them through the format's filter (`line`, `sh`, `yaml`, `ipxe`; see
provisioning.templatetags.installer_formats), built in here.
"""

import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from passlib.hash import sha512_crypt

from inventory.models import IpAddress, Server

ENGINE = Engine(
    autoescape=False,
    loaders=[],
    libraries={},
    builtins=["provisioning.templatetags.installer_formats"],
    debug=False,
)
RAID_LAYOUTS = {
    # layout: (mdadm level or None, fewest disks, needs an even number)
    "no_raid": (None, 1, False),
    "raid_0": (0, 2, False),
    "raid_1": (1, 2, False),
    "raid_5": (5, 3, False),
    "raid_10": (10, 4, True),
}
RAID_NAMES = tuple(RAID_LAYOUTS)  # choices, named RaidEnum in the OpenAPI schema
# What diagnostics may wipe: nothing, signatures and first blocks, or every block.
WIPE_MODES = ("none", "simple", "full")
RAID_LABELS = {
    "no_raid": "No RAID (first disk)",
    "raid_0": "RAID 0 (stripe, no redundancy)",
    "raid_1": "RAID 1 (mirror)",
    "raid_5": "RAID 5 (parity, 3+ disks)",
    "raid_10": "RAID 10 (striped mirrors, 4+ disks)",
}


class RenderError(Exception):
    """The template could not be rendered; the message says where, for staff."""


def raid_layouts_for(disk_count: int) -> list[str]:
    """The layouts a server with `disk_count` disks can take."""
    return [
        layout
        for layout, (_level, fewest, even) in RAID_LAYOUTS.items()
        if disk_count >= fewest and not (even and disk_count % 2)
    ]


def check_raid(layout: str, disk_count: int) -> None:
    if layout not in RAID_LAYOUTS:
        raise ValidationError(f"Unknown RAID layout '{layout}'.")
    if layout not in raid_layouts_for(disk_count):
        _level, fewest, even = RAID_LAYOUTS[layout]
        need = f"an even number of disks, at least {fewest}" if even else f"{fewest} disks or more"
        raise ValidationError(
            f"{RAID_LABELS[layout]} needs {need}; this server has {disk_count}. "
            f"Possible here: {', '.join(raid_layouts_for(disk_count))}."
        )


def hash_password(password: str) -> str:
    """SHA-512 crypt, as kickstart `rootpw --iscrypted` and preseed `*-password-crypted` take."""
    return sha512_crypt.using(rounds=settings.PANEL_CRYPT_ROUNDS).hash(password)


def check_template(template) -> None:
    """Compile every templated field, so a broken template is refused when it is saved."""
    errors = {}
    for field in ("boot_args", "config"):
        try:
            ENGINE.from_string(getattr(template, field))
        except TemplateSyntaxError as exc:
            errors[field] = f"Template error: {exc}"
    if template.family != "custom-ipxe" and not template.kernel_url:
        errors["kernel_url"] = "An installer needs a kernel to boot."
    if errors:
        raise ValidationError(errors)


def render(text: str, context: dict, what: str) -> str:
    try:
        return ENGINE.from_string(text).render(Context(context, autoescape=False))
    except Exception as exc:  # any template fault, reported to staff instead of crashing
        raise RenderError(f"The {what} of this OS template cannot be rendered: {exc}") from exc


def hostname_for(server: Server) -> str:
    """The server's name, which is a host name; one derived from it for a name enrolled
    before the rule that staff have not renamed yet (see inventory migration 0004)."""
    name = re.sub(r"[^a-z0-9-]+", "-", server.name.lower()).strip("-")
    return name[:63] or f"server-{server.pk}"


def network_for(server: Server) -> dict:
    """The server's main IPv4 address from IPAM, or DHCP when it has none."""
    main = (
        IpAddress.objects.filter(server=server, family=4, is_main=True)
        .select_related("pool__network")
        .first()
    )
    if main is None:
        return {"mode": "dhcp", "mac": server.mac or "", "dns": []}
    network = main.pool.network
    interface = ipaddress.ip_interface(f"{main.address}/{network.ip_network.prefixlen}")
    return {
        "mode": "static",
        "mac": server.mac or "",
        "address": main.address,
        "prefix": network.ip_network.prefixlen,
        "netmask": str(interface.netmask),
        "gateway": network.gateway or "",
        "dns": list(network.dns_servers),
    }


def install_context(*, server: Server, template, params: dict, urls: dict) -> dict:
    """Everything a template may use, as plain data. Documented in the README."""
    layout = params.get("raid", "no_raid")
    level = RAID_LAYOUTS.get(layout, (None, 1, False))[0]
    disk_count = server.profile.disk_count
    return {
        "hostname": hostname_for(server),
        "server": {"name": server.name, "serial": server.serial, "mac": server.mac or ""},
        "os": {"name": template.name, "family": template.family, "mirror": template.mirror_url},
        "network": network_for(server),
        "root_password_hash": params.get("password_hash", ""),
        "ssh_keys": list(params.get("ssh_keys", [])),
        "raid": {
            "layout": layout,
            "level": level,
            "disk_count": disk_count,
            "disks": [f"sd{chr(ord('a') + index)}" for index in range(disk_count)],
        },
        "wipe": params.get("wipe", "none"),
        **urls,
    }
