"""The panel's agent image on a real (virtual) machine: QEMU network-boots Debian's iPXE ROM
from the live panel's /boot/ipxe, which boots the agent image it serves at /boot/images/;
the agent runs the operation's utility script against the VM's own disk and reports to
/boot/events/. The host then reads the VM's disk file."""

import hashlib
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from inventory.models import HardwareProfile, Server
from provisioning import agent_image, services
from provisioning.models import BootTicket, Operation, RescueSession
from provisioning.tasks import run_operation
from tests.e2e.qemu import needs_qemu, qemu_command, running_vm, screen
from tests.simlab import free_tcp_port

# Booting iPXE, fetching 16 MB over QEMU's user network and the kernel, under TCG on a busy
# 2-core machine: 15-40 s; a full wipe of the small disk adds a few.
RUN_SECONDS = 240
DISK_BYTES = 64 * 2**20
MIB = 2**20

pytestmark = [
    pytest.mark.e2e,
    needs_qemu,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]


@pytest.fixture(scope="session")
def built_image():
    """The agent image (.ci/run builds it first, so this is the cached build)."""
    if shutil.which("apt-get") is None:
        pytest.skip("the agent image is built from Debian packages: apt-get")
    return agent_image.build()


@pytest.fixture
def vm_server(lab_server, settings, live_server, built_image):
    """lab_server as the VM: 2 CPUs and 1 GB as its configuration says, one disk (of 1 GB in
    the configuration, 64 MiB in fact)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "10.0.2.2"]
    HardwareProfile.objects.filter(pk=lab_server.profile_id).update(
        cpu_cores=2, ram_gb=1, disk_count=1, disk_size_gb=1
    )
    lab_server.panel_port = urlsplit(live_server.url).port
    return lab_server


@pytest.fixture
def disk(tmp_path) -> Path:
    path = tmp_path / "disk.img"
    with path.open("wb") as out:
        out.truncate(DISK_BYTES)
    return path


def pattern(length: int, seed: int) -> bytes:
    """Bytes a disk would not hold by chance, compressible like real data."""
    line = f"metalpanel pattern {seed} ".encode()
    return (line * (length // len(line) + 1))[:length]


def run_on_vm(
    api, server, disk: Path, console: Path, path: str, body: dict, discard: bool = False
) -> Operation:
    """Start the operation, let the VM network-boot the agent image and run it to the end
    (the agent reboots, which ends QEMU); the finished operation."""
    response = api.post(f"/api/v1/servers/{server.pk}/{path}/", body, format="json")
    assert response.status_code == 202, response.content
    op_id = response.json()["task"]
    run_operation(op_id)  # boot device network, power-cycle (the simlab BMC): wait_pxe
    assert Operation.objects.get(pk=op_id).step == "wait_pxe"
    bootfile = f"http://10.0.2.2:{server.panel_port}/boot/ipxe?mac=${{net0/mac}}"
    command = qemu_command(server.mac, bootfile, memory_mb=1024, cpus=2, disk=disk, discard=discard)
    started = time.monotonic()
    first_event = None
    with running_vm(command, console) as vm:
        while vm.poll() is None:
            assert time.monotonic() - started < RUN_SECONDS, screen(console)
            if (
                first_event is None
                and BootTicket.objects.filter(operation_id=op_id, events_received__gt=0).exists()
            ):
                first_event = time.monotonic() - started
            time.sleep(0.2)
    ended = time.monotonic() - started
    if first_event is None:
        # A short job (diagnostics) reports and reboots within a second: its first event can
        # land between this loop's last look and the VM's end (seen once in CI).
        reported = BootTicket.objects.filter(operation_id=op_id, events_received__gt=0)
        assert reported.exists(), ("no event before the VM ended", screen(console)[-3000:])
        first_event = ended
    print(f"\n{path}: first event after {first_event:.1f} s, QEMU ended after {ended:.1f} s")
    for _ in range(3):  # installing -> finalize -> succeeded
        run_operation(op_id)
    op = Operation.objects.get(pk=op_id)
    assert op.state == "succeeded", (op.error, screen(console)[-3000:])
    return op


def test_diagnostics_report_the_vms_real_hardware(owner_api, vm_server, disk, tmp_path):
    run_on_vm(owner_api, vm_server, disk, tmp_path / "console.log", "diagnostics", {"wipe": "none"})
    shown = screen(tmp_path / "console.log")
    assert "metalpanel-agent: 6.1.0-56-cloud-amd64, 2 CPUs, disks: vda" in shown

    info = owner_api.get(f"/api/v1/servers/{vm_server.pk}/").json()
    facts = info["hardware_info"]
    assert facts["cpus"] == 2
    assert 900 < facts["ram_mb"] <= 1024
    assert facts["cpu"]  # QEMU's model name
    assert [(d["name"], d["size_bytes"]) for d in facts["disks"]] == [("vda", DISK_BYTES)]
    assert [(n["mac"], n["link"]) for n in facts["nics"]] == [(vm_server.mac, "up")]
    assert info["hardware_mismatch"] == ["disk vda has 0.1 GB for 1 GB"]
    assert Server.objects.get(pk=vm_server.pk).current_os == ""


def partitioned(disk: Path, start_mib: int) -> None:
    """The pattern over the whole disk under an MBR with one Linux partition at start_mib."""
    data = bytearray(pattern(DISK_BYTES, 1))
    entry = bytes([0, 0, 0, 0, 0x83, 0, 0, 0])
    entry += (start_mib * 2048).to_bytes(4, "little") + (8 * 2048).to_bytes(4, "little")
    data[446:462] = entry
    data[462:510] = bytes(48)
    data[510:512] = b"\x55\xaa"
    disk.write_bytes(bytes(data))


def test_wipes_zero_the_disk_the_host_reads_and_report_progress(
    owner_api, vm_server, disk, tmp_path
):
    partitioned(disk, start_mib=4)
    op = run_on_vm(owner_api, vm_server, disk, tmp_path / "simple.log", "wipe", {"mode": "simple"})
    data = disk.read_bytes()
    assert data[:MIB] == bytes(MIB) and data[-MIB:] == bytes(MIB)
    assert data[4 * MIB : 5 * MIB] == bytes(MIB)  # the partition's start, its signatures
    assert data[8 * MIB : 9 * MIB] == pattern(DISK_BYTES, 1)[8 * MIB : 9 * MIB]  # untouched
    messages = list(op.events.values_list("message", flat=True))
    assert "Installer: Wiped /dev/vda (simple), verified by reading back samples" in messages

    # A disk that discards: blkdiscard, and QEMU punches holes in the file.
    full = {"mode": "full"}
    op = run_on_vm(owner_api, vm_server, disk, tmp_path / "full.log", "wipe", full, discard=True)
    assert disk.read_bytes() == bytes(DISK_BYTES)
    messages = list(op.events.values_list("message", flat=True))
    assert "Installer: Discarded every block of /dev/vda" in messages
    assert "Installer: Wiped /dev/vda (full), verified by reading back samples" in messages


def test_the_build_is_cached_and_the_same_bytes_when_built_again(built_image, settings, tmp_path):
    again = agent_image.build()
    assert again.cached and again.directory == built_image.directory
    settings.PANEL_AGENT_IMAGE_DIR = tmp_path / "fresh"
    fresh = agent_image.build()
    assert not fresh.cached
    assert fresh.manifest["files"] == built_image.manifest["files"]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_disk_is_captured_wiped_and_restored_to_the_same_bytes(
    owner_api, vm_server, disk, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PANEL_IMAGE_PIECE_MIB = 8
    partitioned(disk, start_mib=4)
    written = sha256_of(disk)
    # What diagnostics reported (test_diagnostics_report_the_vms_real_hardware boots for it).
    Server.objects.filter(pk=vm_server.pk).update(
        facts={"disks": [{"name": "vda", "size_bytes": DISK_BYTES}]}, current_os="Debian 12"
    )
    body = {"name": "golden", "disks": ["vda"]}
    op = run_on_vm(owner_api, vm_server, disk, tmp_path / "capture.log", "capture", body)
    image = owner_api.get(f"/api/v1/images/{op.result['image']}/").json()
    assert image["state"] == "ready" and image["source_os"] == "Debian 12"
    assert image["disks"] == [{"name": "vda", "bytes": DISK_BYTES, "sha256": written}]
    assert 0 < image["stored_bytes"] < DISK_BYTES / 10  # gzipped pieces in the storage
    assert len(list((tmp_path / "media/disk-images").rglob("*.gz"))) == 8

    # A disk that does not discard: zeroes written over all of it.
    op = run_on_vm(owner_api, vm_server, disk, tmp_path / "wipe.log", "wipe", {"mode": "full"})
    assert disk.read_bytes() == bytes(DISK_BYTES)
    messages = list(op.events.values_list("message", flat=True))
    assert "Installer: Zeroed 64 of 64 MiB of /dev/vda" in messages

    body = {"image": image["id"]}
    op = run_on_vm(owner_api, vm_server, disk, tmp_path / "restore.log", "restore", body)
    assert sha256_of(disk) == written
    messages = list(op.events.values_list("message", flat=True))
    assert "Installer: /dev/vda reads back the image's SHA-256" in messages
    assert op.result["boot_device"] == "disk"
    assert Server.objects.get(pk=vm_server.pk).current_os == "Debian 12"


def test_the_rescue_system_answers_on_the_serial_console_and_over_ssh_with_the_key(
    customer, vm_server, disk, tmp_path
):
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rescuer", "-f", str(key)],
        check=True,
    )
    public = (tmp_path / "id_ed25519.pub").read_text().strip()
    started = services.start_rescue(
        actor=customer, server=vm_server, ssh_keys=[public], password=True
    )
    op_id = started.operation.pk
    run_operation(op_id)
    assert Operation.objects.get(pk=op_id).step == "wait_pxe"
    ssh_port = free_tcp_port()
    bootfile = f"http://10.0.2.2:{vm_server.panel_port}/boot/ipxe?mac=${{net0/mac}}"
    command = qemu_command(vm_server.mac, bootfile, memory_mb=512, disk=disk, ssh_port=ssh_port)
    console = tmp_path / "console.log"
    with running_vm(command, console, stdin=subprocess.PIPE) as vm:
        deadline = time.monotonic() + RUN_SECONDS
        while "root@rescue:~# " not in screen(console):
            assert vm.poll() is None and time.monotonic() < deadline, screen(console)
            time.sleep(0.5)
        vm.stdin.write(b"echo serial-$((6 * 7)) on $(hostname)\n")
        vm.stdin.flush()
        while "serial-42 on rescue" not in screen(console):
            assert time.monotonic() < deadline, screen(console)
            time.sleep(0.2)
        answer = subprocess.run(
            [
                "ssh",
                *("-i", str(key), "-p", str(ssh_port), "-o", "BatchMode=yes"),
                *("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"),
                "root@127.0.0.1",
                "cat /sys/block/vda/size; hostname",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert answer.returncode == 0, (answer.stderr, screen(console)[-2000:])
        assert answer.stdout.split() == [str(DISK_BYTES // 512), "rescue"]
    for _ in range(3):
        run_operation(op_id)
    assert Operation.objects.get(pk=op_id).state == "succeeded"
    assert RescueSession.objects.current().filter(server=vm_server).exists()
