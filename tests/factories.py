"""Test data built through the same services production uses."""

import importlib
import itertools

from django.apps import apps

from inventory import ipam, services
from inventory.models import HardwareProfile, IpPool, Location, Pdu, Rack, Server, Switch
from panel import services as people
from panel.models import User

_seq = itertools.count(1)

# Made with ssh-keygen; FINGERPRINT is what `ssh-keygen -lf` printed for it.
ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICdpokNGQ5T6YFJu337PY3C2BxVD+v9XKJm85wv9xS2A alice@laptop"
)
FINGERPRINT = "SHA256:cZtYdqu8yzX8D3mAYLVZRfIRPFHNsFveueHdKvVi8o0"
ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBTavKkZlndSiu9F2DkePR1xMgYkkXU42F4j0jUAcjRS9ArKrvjH+Z7PgmozHCBZ7wNbGzvJJ4d2YKSTHQ1fIAs= root@vm"
RSA_1024 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDHYKCJ2/qerxfjPWcCdyOsoGjTj4e4v16HZp7TusmHGwc+28Oy2ldE7Z/AzG7BPwgNaka04yUvfaTTz7M1kdLv2+p0LO1jIy4i7JS7osMuXpaVZ9RX1wnhQ3mOTG6l7FfJLHNOZz8vRHFphl9feMlEpJfwPN9lPb1ZwQ4PZMQqYw== root@vm"


# The server admin page's switch port and PDU outlet rows, when a test posts none of them.
NO_CONNECTION_ROWS = {
    "switch_ports-TOTAL_FORMS": "0",
    "switch_ports-INITIAL_FORMS": "0",
    "pdu_outlets-TOTAL_FORMS": "0",
    "pdu_outlets-INITIAL_FORMS": "0",
}


def make_user(role: str = "customer", **fields) -> User:
    n = next(_seq)
    fields.setdefault("email", f"{role}{n}@example.test")
    fields.setdefault("password", "a-long-test-password")
    return people.create_user(actor=None, role=role, **fields)


def make_profile(**fields) -> HardwareProfile:
    n = next(_seq)
    defaults = dict(
        name=f"cfg-{n}", cpu="Xeon E-2236", cpu_cores=6, ram_gb=32, disk_count=2, disk_size_gb=480
    )
    return HardwareProfile.objects.create(**{**defaults, **fields})


def make_rack(**fields) -> Rack:
    n = next(_seq)
    location = fields.pop("location", None) or Location.objects.create(name=f"DC{n}")
    return Rack.objects.create(location=location, name=fields.pop("name", f"R{n}"), **fields)


def make_server(*, actor: User | None = None, owner: User | None = None, **fields) -> Server:
    n = next(_seq)
    actor = actor or User.objects.filter(role="admin").first() or make_user("admin")
    fields.setdefault("name", f"srv-{n}")
    fields.setdefault("profile", make_profile())
    fields.setdefault("mac", f"02:00:00:00:{n // 256:02x}:{n % 256:02x}")
    # TEST-NET-1: no BMC answers there; tests that talk IPMI use simlab's BMCs instead.
    fields.setdefault(
        "bmc",
        {
            "address": "192.0.2.250",
            "port": 20000 + n,
            "username": "admin",
            "password": "bmc-secret",
        },
    )
    server = services.enrol_server(actor=actor, **fields)
    if owner is not None:
        server = services.assign_owner(actor=actor, server=server, owner=owner)
    return server


def _make_snmp_device(model, prefix: str, community: str, fields: dict):
    """A v2c device in TEST-NET-1, where no agent answers; made through the service."""
    n = next(_seq)
    actor = User.objects.filter(role="admin").first() or make_user("admin")
    fields.setdefault("name", f"{prefix}-{n}")
    fields.setdefault("address", f"192.0.2.{n % 250 + 1}")
    fields.setdefault("port", 16100 + n)
    return services.save_snmp_device(
        actor=actor, device=model(**fields), secrets={"community": community}
    )


def make_switch(*, community: str = "switch-community", **fields) -> Switch:
    return _make_snmp_device(Switch, "sw", community, fields)


def make_pdu(*, community: str = "pdu-community", **fields) -> Pdu:
    return _make_snmp_device(Pdu, "pdu", community, fields)


def make_pool(
    *, cidr: str = "192.0.2.0/24", first: str = "192.0.2.10", last: str = "192.0.2.20", **fields
) -> IpPool:
    actor = User.objects.filter(role="admin").first() or make_user("admin")
    network = ipam.create_network(
        actor=actor,
        name=f"net-{next(_seq)}",
        cidr=cidr,
        gateway=fields.pop("gateway", None),
        location=fields.pop("location", None),
        boot=fields.pop("boot", False),
    )
    return ipam.create_pool(
        actor=actor,
        network=network,
        name=fields.pop("name", "pool"),
        first_address=first,
        last_address=last,
        **fields,
    )


def restore_shipped_os_templates() -> None:
    """A transactional test's flush also empties what data migrations wrote: run them again."""
    from provisioning.models import OsTemplate

    if OsTemplate.objects.exists():
        return
    shipped = importlib.import_module("provisioning.migrations.0004_default_os_templates")
    shipped.create_defaults(apps, None)
    over_http = importlib.import_module("provisioning.migrations.0005_kernels_over_plain_http")
    over_http.forwards(apps, None)
    guarded = importlib.import_module(
        "provisioning.migrations.0006_utility_image_wipes_only_when_asked"
    )
    guarded.forwards(apps, None)
    filtered = importlib.import_module("provisioning.migrations.0007_templates_escape_values")
    filtered.forwards(apps, None)
    agent = importlib.import_module(
        "provisioning.migrations.0017_utility_template_boots_agent_image"
    )
    agent.forwards(apps, None)
