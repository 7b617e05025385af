"""Real iPXE runs the panel's boot script: QEMU (software emulation) network-boots Debian's
iPXE ROM, which asks the live panel's /boot/ipxe for the VM's MAC through QEMU's user
networking (the host is 10.0.2.2 there) and executes what it gets."""

import time
from urllib.parse import urlsplit

import pytest

from provisioning.models import BootTicket, Operation, OsTemplate
from provisioning.tasks import run_operation
from tests.e2e.qemu import needs_qemu, qemu_command, running_vm, screen

BOOT_SECONDS = 180  # iPXE under TCG on a busy 2-core machine: typically 10-30 s

pytestmark = [
    pytest.mark.e2e,
    needs_qemu,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]


def test_real_ipxe_runs_the_panel_script(
    owner_api, lab_server, simlab, live_server, settings, tmp_path
):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "10.0.2.2"]
    simlab.change(lab_server.lab_port, power="on")
    template = OsTemplate.objects.get(name="AlmaLinux 9")
    response = owner_api.post(
        f"/api/v1/servers/{lab_server.pk}/install/",
        {"os_template": template.pk, "password": "Correct-Horse-9"},
        format="json",
    )
    assert response.status_code == 202, response.content
    op_id = response.json()["task"]
    run_operation(op_id)  # set boot device, power-cycle (the simlab BMC), then wait for PXE
    assert Operation.objects.get(pk=op_id).step == "wait_pxe"

    port = urlsplit(live_server.url).port
    # iPXE expands ${net0/mac} in the DHCP filename, as it does for dnsmasq_config's.
    bootfile = f"http://10.0.2.2:{port}/boot/ipxe?mac=${{net0/mac}}"
    announced = f"Metalpanel: OS installation: AlmaLinux 9 on {lab_server.name}"
    console = tmp_path / "console.log"
    with running_vm(qemu_command(lab_server.mac, bootfile), console) as vm:
        deadline = time.monotonic() + BOOT_SECONDS
        while announced not in screen(console):
            assert vm.poll() is None, f"QEMU exited:\n{screen(console)}"
            assert "No bootable device" not in screen(console), screen(console)
            assert time.monotonic() < deadline, f"iPXE did not run it:\n{screen(console)}"
            time.sleep(0.5)
    shown = screen(console)
    print("\n".join(line for line in shown.splitlines() if line.strip())[-1500:])

    assert f"Filename: http://10.0.2.2:{port}/boot/ipxe?mac={lab_server.mac}" in shown
    ticket = BootTicket.objects.get(operation_id=op_id)
    assert ticket.state == "booted" and ticket.booted_at is not None
    run_operation(op_id)
    op = Operation.objects.get(pk=op_id)
    assert (op.state, op.step) == ("running", "installing")
    assert "The machine booted from the network and fetched its boot script." in list(
        op.events.values_list("message", flat=True)
    )
