"""A small demo datacenter, seeded through the same services staff use, its BMCs and
machines played by simlab."""

from django.db import transaction

from inventory import ipam, services
from inventory.models import Bmc, HardwareProfile, Location, Rack
from panel import services as people
from panel.models import User
from provisioning.simlab.enrolment import cable_lab
from provisioning.simlab.machine import simlab_mac
from provisioning.simlab.wiring import rack_wiring

ADMIN_EMAIL = "admin@demo.metalpanel"
ADMIN_PASSWORD = "demo-admin-pass"  # noqa: S105 - a published demo credential
CUSTOMERS = [
    ("alice@demo.metalpanel", "Alice Hosting", "demo-alice-pass"),
    ("bob@demo.metalpanel", "Bob Webshop", "demo-bob-pass"),
]
PROFILES = [
    ("i9-9900K-64Gb-2x1024NVMe", "Intel Core i9-9900K", 8, 64, 2, 1024, "nvme"),
    ("E-2236-32Gb-2x480SSD", "Intel Xeon E-2236", 6, 32, 2, 480, "ssd"),
    ("EPYC-7402P-128Gb-4x3840NVMe", "AMD EPYC 7402P", 24, 128, 4, 3840, "nvme"),
]
BMC_BASE_PORT = 16230
# simlab's SNMP agents: a switch and a PDU per rack of up to 500 machines, rack r on base + r.
SWITCH_BASE_PORT = 16400
PDU_BASE_PORT = 16500
SNMP_COMMUNITY = "private"  # simlab's read-write community


def demo_bmc_port(index: int) -> int:
    """Demo server `index` (0-based) has its simulated BMC on this UDP port."""
    return BMC_BASE_PORT + index


@transaction.atomic
def seed(servers: int = 12) -> User:
    """Create the demo people, racks, profiles, servers and networks; a second call adds nothing."""
    admin = User.objects.filter(email=ADMIN_EMAIL).first()
    if admin is not None:
        return admin
    admin = people.create_user(
        actor=None, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, full_name="Demo Admin", role="admin"
    )
    customers = [
        people.create_user(actor=admin, email=email, password=password, full_name=name)
        for email, name, password in CUSTOMERS
    ]
    ams = Location.objects.create(name="AMS1", address="Science Park, Amsterdam")
    fra = Location.objects.create(name="FRA1", address="Hanauer Landstrasse, Frankfurt")
    racks = [
        Rack.objects.create(location=ams, name="A01", size_u=42),
        Rack.objects.create(location=fra, name="F01", size_u=42),
    ]
    profiles = [
        HardwareProfile.objects.create(
            name=name,
            cpu=cpu,
            cpu_cores=cores,
            ram_gb=ram,
            disk_count=disks,
            disk_size_gb=size,
            disk_kind=kind,
        )
        for name, cpu, cores, ram, disks, size, kind in PROFILES
    ]
    v4 = ipam.create_network(
        actor=admin,
        name="AMS1 public",
        cidr="203.0.113.0/24",
        gateway="203.0.113.1",
        vlan=100,
        location=ams,
        dns_servers=["9.9.9.9", "1.1.1.1"],
    )
    ipam.create_pool(
        actor=admin,
        network=v4,
        name="ams1-public",
        first_address="203.0.113.10",
        last_address="203.0.113.250",
    )
    v6 = ipam.create_network(
        actor=admin,
        name="AMS1 public v6",
        cidr="2001:db8:100::/64",
        gateway="2001:db8:100::1",
        vlan=100,
        location=ams,
    )
    ipam.create_pool(
        actor=admin,
        network=v6,
        name="ams1-public-v6",
        first_address="2001:db8:100::10",
        last_address="2001:db8:100::ffff",
    )
    fra_net = ipam.create_network(
        actor=admin,
        name="FRA1 public",
        cidr="198.51.100.0/24",
        gateway="198.51.100.1",
        vlan=200,
        location=fra,
        dns_servers=["9.9.9.9"],
    )
    ipam.create_pool(
        actor=admin,
        network=fra_net,
        name="fra1-public",
        first_address="198.51.100.10",
        last_address="198.51.100.250",
    )
    for index in range(servers):
        rack = racks[index % 2]
        server = services.enrol_server(
            actor=admin,
            name=f"{rack.location.name.lower()}-srv{index + 1:03d}",
            profile=profiles[index % len(profiles)],
            rack=rack,
            unit=index // 2 + 1,
            mac=simlab_mac(demo_bmc_port(index)),
            serial=f"DEMO{index + 1:05d}",
            bmc={
                "address": "127.0.0.1",
                "port": demo_bmc_port(index),
                "username": "admin",
                "password": "password",
            },
        )
        if index < 4:
            ipam.allocate_ip(actor=admin, server=server, family=4)
            services.assign_owner(actor=admin, server=server, owner=customers[index % 2])
    ports = [demo_bmc_port(index) for index in range(servers)]
    wiring = rack_wiring(ports, switch_port=SWITCH_BASE_PORT, pdu_port=PDU_BASE_PORT)
    cable_lab(wiring, community=SNMP_COMMUNITY)
    return admin


def sold_machines() -> list[int]:
    """The BMC ports of the servers customers have: running when the demo starts."""
    return sorted(
        Bmc.objects.filter(server__owner__isnull=False, port__gte=BMC_BASE_PORT).values_list(
            "port", flat=True
        )
    )
