"""Link a running simlab to the database: one Server + Bmc per simulated BMC."""

from django.db import transaction

from inventory import services
from inventory.models import Bmc, HardwareProfile
from provisioning.simlab.machine import simlab_mac

SIMLAB_PROFILE = "simlab-E-2236-32Gb-2x480SSD"


@transaction.atomic
def enrol_lab(*, ports: list[int], username: str, password: str, address: str = "127.0.0.1") -> int:
    """Enrol a server for every port with no BMC row yet; existing rows are kept as they are."""
    known = set(Bmc.objects.filter(address=address, port__in=ports).values_list("port", flat=True))
    profile, _ = HardwareProfile.objects.get_or_create(
        name=SIMLAB_PROFILE,
        defaults={
            "cpu": "Intel Xeon E-2236 (simulated)",
            "cpu_cores": 6,
            "ram_gb": 32,
            "disk_count": 2,
            "disk_size_gb": 480,
        },
    )
    created = 0
    for port in ports:
        if port in known:
            continue
        services.enrol_server(
            actor=None,
            name=f"sim-{port}",
            profile=profile,
            mac=simlab_mac(port),
            serial=f"SIM{port}",
            bmc={"address": address, "port": port, "username": username, "password": password},
        )
        created += 1
    return created
