"""Link a running simlab to the database: one Server + Bmc per simulated BMC, and its
switches, PDUs and cabling."""

from django.db import transaction

from inventory import services
from inventory.models import Bmc, HardwareProfile, Pdu, PduOutlet, Switch, SwitchPort
from provisioning.simlab.machine import simlab_mac
from provisioning.simlab.wiring import Wiring, outlet_name

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


@transaction.atomic
def cable_lab(
    wiring: list[Wiring], *, community: str, address: str = "127.0.0.1"
) -> tuple[list[Switch], list[Pdu]]:
    """Record simlab's switches, PDUs and cabling: each enrolled machine's data port, its BMC's
    port (left up by suspend) and its outlet. Rows already there are brought up to date."""
    servers = {
        bmc.port: bmc.server_id
        for bmc in Bmc.objects.filter(address=address, port__in=[c.bmc_port for c in wiring])
    }
    switches, pdus = {}, {}
    for cable in wiring:
        rack = cable.rack
        if rack not in switches:
            switches[rack] = _device(
                Switch, f"simlab-switch-{rack}", address, cable.switch_port, community
            )
            pdus[rack] = _device(Pdu, f"simlab-pdu-{rack}", address, cable.pdu_port, community)
        server_id = servers.get(cable.bmc_port)
        for name, if_index, is_bmc in (
            (cable.data_if_name, cable.data_if_index, False),
            (cable.bmc_if_name, cable.bmc_if_index, True),
        ):
            SwitchPort.objects.update_or_create(
                switch=switches[rack],
                name=name,
                defaults={
                    "if_index": if_index,
                    "server_id": server_id,
                    "is_ipmi_connection": is_bmc,
                },
            )
        PduOutlet.objects.update_or_create(
            pdu=pdus[rack],
            number=cable.outlet,
            defaults={"name": outlet_name(cable.bmc_port), "server_id": server_id},
        )
    return list(switches.values()), list(pdus.values())


def _device(model, name: str, address: str, port: int, community: str):
    device, _ = model.objects.update_or_create(
        name=name, defaults={"address": address, "port": port}
    )
    device.set_secret("community", community)
    device.save(update_fields=["community_encrypted"])
    return device
