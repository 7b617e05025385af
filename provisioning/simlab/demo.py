"""A small demo datacenter, seeded through the same services staff use, its BMCs and
machines played by simlab."""

from dataclasses import dataclass

from django.db import transaction

from inventory import ipam, services
from inventory.models import Bmc, HardwareProfile, Location, Rack, Server
from panel import services as people
from panel.models import User
from provisioning.simlab.enrolment import cable_lab
from provisioning.simlab.machine import simlab_mac
from provisioning.simlab.wiring import MAX_BMCS_PER_PROCESS, rack_wiring

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
CONTROL_BASE_PORT = 16300
# simlab's SNMP agents: a switch and a PDU per rack of up to 500 machines, rack r on base + r.
SWITCH_BASE_PORT = 16400
PDU_BASE_PORT = 16500
SNMP_COMMUNITY = "private"  # simlab's read-write community


SERIAL_PREFIX = "DEMO"


@dataclass(frozen=True)
class LabPorts:
    """Where the demo's simlab listens: the first BMC's UDP port (server n on base + n), and
    per rack of up to MAX_BMCS_PER_PROCESS machines a control API, a switch and a PDU."""

    bmc: int = BMC_BASE_PORT
    control: int = CONTROL_BASE_PORT
    switch: int = SWITCH_BASE_PORT
    pdu: int = PDU_BASE_PORT

    def bmc_port(self, index: int) -> int:
        """Demo server `index` (0-based) has its simulated BMC on this UDP port."""
        return self.bmc + index


def racks(servers: int) -> int:
    """How many simlab processes (each with its control API, switch and PDU) a lab needs."""
    return -(-servers // MAX_BMCS_PER_PROCESS)


@transaction.atomic
def seed(servers: int = 12, ports: LabPorts = LabPorts()) -> User:
    """Create the demo people, racks, profiles, servers and networks, their BMCs and cabling on
    `ports`; a second call adds nothing but moves the lab to `ports` (place)."""
    admin = User.objects.filter(email=ADMIN_EMAIL).first()
    if admin is not None:
        place(ports)
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
            mac=simlab_mac(ports.bmc_port(index)),
            serial=f"{SERIAL_PREFIX}{index + 1:05d}",
            bmc={
                "address": "127.0.0.1",
                "port": ports.bmc_port(index),
                "username": "admin",
                "password": "password",
            },
        )
        if index < 4:
            ipam.allocate_ip(actor=admin, server=server, family=4)
            services.assign_owner(actor=admin, server=server, owner=customers[index % 2])
    _cable(servers, ports)
    return admin


def _demo_bmcs():
    return Bmc.objects.filter(server__serial__startswith=SERIAL_PREFIX).order_by("server__serial")


def _cable(servers: int, ports: LabPorts) -> None:
    bmc_ports = [ports.bmc_port(index) for index in range(servers)]
    wiring = rack_wiring(bmc_ports, switch_port=ports.switch, pdu_port=ports.pdu)
    cable_lab(wiring, community=SNMP_COMMUNITY)


def place(ports: LabPorts) -> None:
    """Point the demo's BMCs, their machines' MACs and the cabling at a lab on `ports` (the
    demo started again with other ports). In two passes, as the new ports may overlap the old."""
    bmcs = list(_demo_bmcs().select_related("server"))
    if all(bmc.port == ports.bmc_port(index) for index, bmc in enumerate(bmcs)):
        if bmcs:
            _cable(len(bmcs), ports)
        return
    for final in (False, True):
        for index, bmc in enumerate(bmcs):
            port = ports.bmc_port(index) + (0 if final else 65536)
            Bmc.objects.filter(pk=bmc.pk).update(port=port)
            Server.objects.filter(pk=bmc.server_id).update(mac=simlab_mac(port))
    _cable(len(bmcs), ports)


def sold_machines() -> list[tuple[int, str]]:
    """The BMC ports and names of the servers customers have: running when the demo starts."""
    sold = _demo_bmcs().filter(server__owner__isnull=False)
    return sorted(sold.values_list("port", "server__name"))
