"""The agent image: how its initramfs is written, which drivers it loads in which order, and
how the panel serves it (only to the boot networks)."""

import gzip

import pytest
from django.test import Client

from panel.models import AuditEvent
from provisioning import agent_image


def newc_entries(archive: bytes) -> list[tuple[str, int, bytes]]:
    """(name, mode, data) of each entry of a cpio "newc" archive, as the kernel reads it."""
    entries, offset = [], 0
    while True:
        assert archive[offset : offset + 6] == b"070701"
        fields = [int(archive[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_at = offset + 110
        name = archive[name_at : name_at + name_size - 1].decode()
        data_at = name_at + name_size + (-(110 + name_size) % 4)
        if name == "TRAILER!!!":
            return entries
        entries.append((name, mode, archive[data_at : data_at + size]))
        offset = data_at + size + (-size % 4)


@pytest.fixture
def debian_root(tmp_path):
    """What dpkg-deb leaves of the kernel and busybox packages, in miniature."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin/busybox").write_bytes(b"\x7fELF busybox")
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/dropbear").write_bytes(b"\x7fELF dropbear")
    for directory in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"):
        (root / directory).mkdir(parents=True)
    for name in agent_image.SSH_LIBRARIES:
        # As the packages have them: the soname a symlink to the file, in /lib or /usr/lib.
        directory = root / ("usr/" if name.startswith("libtom") else "") / "lib/x86_64-linux-gnu"
        (directory / f"{name}.0.1").write_bytes(f"\x7fELF {name}".encode())
        (directory / name).symlink_to(f"{name}.0.1")
    modules = root / "lib/modules/6.1.0-56-cloud-amd64/kernel"
    for path, depends in {
        "drivers/virtio/virtio_ring.ko": "",
        "drivers/virtio/virtio.ko": "virtio_ring",
        "drivers/virtio/virtio_pci.ko": "virtio,virtio_ring",
        "net/core/failover.ko": "",
        "drivers/net/net_failover.ko": "failover",
        "drivers/net/virtio_net.ko": "net_failover,virtio,virtio_ring",
        "drivers/nvme/host/nvme-core.ko": "",
        "drivers/unwanted/floppy.ko": "",
    }.items():
        (modules / path).parent.mkdir(parents=True, exist_ok=True)
        (modules / path).write_bytes(b"\x7fELF\x00license=GPL\x00depends=" + depends.encode())
    return root


def test_modules_load_after_what_they_depend_on_and_only_wanted_ones(debian_root):
    modules = debian_root / "lib/modules/6.1.0-56-cloud-amd64"
    order = agent_image.load_order(modules, wanted=("virtio_pci", "virtio_net", "nvme_core"))
    names = [path.name for path in order]
    assert names == [
        "virtio_ring.ko",
        "virtio.ko",
        "virtio_pci.ko",
        "failover.ko",
        "net_failover.ko",
        "virtio_net.ko",
        "nvme-core.ko",
    ]


def test_the_initramfs_is_the_same_bytes_every_time_and_holds_the_agent(debian_root):
    modules = agent_image.load_order(debian_root / "lib/modules/6.1.0-56-cloud-amd64")
    first = agent_image._initramfs(debian_root, modules)
    assert first == agent_image._initramfs(debian_root, modules)
    assert first[4:8] == bytes(4)  # no time in the gzip header
    entries = {name: (mode, data) for name, mode, data in newc_entries(gzip.decompress(first))}
    assert entries["init"] == (0o100755, (agent_image.AGENT_SOURCE / "init").read_bytes())
    assert entries["bin/sh"] == (0o120777, b"busybox")
    assert entries["dev/console"][0] == 0o020600
    assert entries["usr/sbin/dropbear"] == (0o100755, b"\x7fELF dropbear")
    assert entries["lib/x86_64-linux-gnu/libtomcrypt.so.1"][1] == b"\x7fELF libtomcrypt.so.1"
    assert entries["lib64/ld-linux-x86-64.so.2"][1] == b"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert entries["lib/modules/load-order"][1] == b"virtio_ring\nvirtio\nvirtio_pci\n" + (
        b"failover\nnet_failover\nvirtio_net\n"
    )
    assert "lib/modules/floppy.ko" not in entries


@pytest.fixture
def image_dir(settings, tmp_path):
    settings.PANEL_AGENT_IMAGE_DIR = tmp_path / "agent-image"
    return settings.PANEL_AGENT_IMAGE_DIR


def test_the_panel_serves_the_current_image_to_the_boot_networks(client, image_dir, db):
    missing = client.get("/boot/images/vmlinuz")
    assert missing.status_code == 404 and b"build_agent_image" in missing.content
    build = image_dir / "cache" / "0123456789abcdef"
    build.mkdir(parents=True)
    (build / "vmlinuz").write_bytes(b"kernel bytes")
    (build / "initrd.gz").write_bytes(b"initramfs bytes")
    agent_image._publish(build)
    response = client.get("/boot/images/vmlinuz")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"kernel bytes"
    assert b"".join(client.get("/boot/images/initrd.gz").streaming_content) == b"initramfs bytes"
    assert client.get("/boot/images/manifest.json").status_code == 404
    assert client.get("/boot/images/..%2Fvmlinuz").status_code == 404


def test_the_image_is_refused_outside_the_boot_networks(settings, image_dir, db):
    settings.PANEL_BOOT_ALLOWED_CIDRS = []
    response = Client(REMOTE_ADDR="203.0.113.9").get("/boot/images/vmlinuz")
    assert response.status_code == 404
    refusal = AuditEvent.objects.get(action="boot.refused")
    assert refusal.detail["endpoint"] == "images" and refusal.source_ip == "203.0.113.9"
