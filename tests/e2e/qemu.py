"""QEMU (software emulation) network-booting Debian's iPXE ROM against the live panel, which
its user network reaches as 10.0.2.2 (and which sees it as 127.0.0.1)."""

import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

QEMU = shutil.which("qemu-system-x86_64")
IPXE_ROM = Path("/usr/lib/ipxe/qemu/efi-virtio.rom")  # QEMU's default ROM for virtio-net
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
needs_qemu = pytest.mark.skipif(
    QEMU is None or not IPXE_ROM.exists(), reason="qemu-system-x86 and ipxe-qemu: .ci/run"
)


def qemu_command(
    mac: str, bootfile: str, *, memory_mb=256, cpus=1, disk=None, discard=False, ssh_port=None
) -> list[str]:
    """A VM whose NIC has `mac`, whose DHCP names `bootfile`, with `disk` (a raw file) as its
    virtio disk if given (that discards, punching holes in the file, if `discard`), its port
    22 on the host's 127.0.0.1:`ssh_port` if given; it ends when its system reboots."""
    forward = f",hostfwd=tcp:127.0.0.1:{ssh_port}-:22" if ssh_port else ""
    command = [
        QEMU,
        *("-accel", "tcg", "-m", str(memory_mb), "-smp", str(cpus)),
        *("-nographic", "-no-reboot", "-boot", "n"),
        *("-netdev", f"user,id=n0,bootfile={bootfile}{forward}"),
        *("-device", f"virtio-net-pci,netdev=n0,mac={mac}"),
    ]
    if disk is not None:
        unmap = ",discard=unmap" if discard else ""
        command += ["-drive", f"file={disk},format=raw,if=virtio{unmap}"]
    return command


@contextmanager
def running_vm(command: list[str], console: Path, *, stdin=subprocess.DEVNULL):
    with console.open("wb") as out:
        vm = subprocess.Popen(command, stdin=stdin, stdout=out, stderr=out)
        try:
            yield vm
        finally:
            vm.kill()
            vm.wait(timeout=10)


def screen(console: Path) -> str:
    return ANSI.sub("", console.read_text(errors="replace"))
