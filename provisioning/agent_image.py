"""The panel's agent image: a Debian kernel and an initramfs of busybox, drivers, the agent
and, for the rescue system, dropbear (SSH) with its libraries.

Built from Debian packages only (`apt-get download`, `dpkg-deb -x`), so a panel with no
internet but a Debian mirror can build it. The initramfs is written here (cpio "newc" and
gzip, in Python): fixed times, sorted entries, no gzip name or time, so the same packages
and agent give the same bytes. Builds are cached under PANEL_AGENT_IMAGE_DIR/cache, keyed by
the packages' versions and the agent's source; the panel serves the current build's files at
/boot/images/<name>.
"""

import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

AGENT_SOURCE = Path(__file__).resolve().parent / "agent"
# What `apt-cache policy` offered on 2026-11-24 (bookworm-security): bump both together
# with the kernel's ABI name when the archive moves on.
KERNEL_PACKAGE = "linux-image-6.1.0-56-cloud-amd64=6.1.192-2"
BUSYBOX_PACKAGE = "busybox-static=1:1.35.0-4+deb12u1+b1"
# The rescue system's SSH server and the shared libraries it needs (busybox has none).
SSH_PACKAGES = (
    "dropbear-bin=2022.83-1+deb12u3",
    "libc6=2.36-9+deb12u14",
    "libcrypt1=1:4.4.33-2",
    "libgmp10=2:6.2.1+dfsg1-1.1",
    "libtomcrypt1=1.18.2-6",
    "libtommath1=1.2.0-6+deb12u1",
    "zlib1g=1:1.2.13.dfsg-1",
)
SSH_LIBRARIES = (
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libcrypt.so.1",
    "libgmp.so.10",
    "libtomcrypt.so.1",
    "libtommath.so.1",
    "libz.so.1",
)
LIBRARY_DIR = "lib/x86_64-linux-gnu"
# The drivers the image loads when its kernel has them as modules (with what they depend on):
# QEMU's virtio, then common server NICs and disk controllers. Debian's cloud kernel builds
# NVMe in and has no modules for e1000/igb/ixgbe/i40e/bnxt/tg3/ahci/megaraid (physical
# hardware): build with --kernel-package naming linux-image-*-amd64 for those.
WANTED_MODULES = (
    "virtio_pci",
    "virtio_net",
    "virtio_blk",
    "virtio_scsi",
    "sd_mod",
    "ahci",
    "nvme",
    "megaraid_sas",
    "mpt3sas",
    "e1000",
    "e1000e",
    "igb",
    "ixgbe",
    "ixgbevf",
    "i40e",
    "ice",
    "bnxt_en",
    "tg3",
    "r8169",
    "mlx5_core",
    "ena",
)
FILES = ("vmlinuz", "initrd.gz")
MTIME = 0
DEPENDS = re.compile(rb"(?:^|\x00)depends=([^\x00]*)")


class BuildError(Exception):
    """The image could not be built; the message says what to fix."""


@dataclass(frozen=True)
class Built:
    directory: Path
    manifest: dict
    cached: bool


def image_dir() -> Path:
    return Path(settings.PANEL_AGENT_IMAGE_DIR)


def served_file(name: str) -> Path | None:
    """The current build's file `name` (vmlinuz, initrd.gz), if it was built."""
    if name not in FILES:
        return None
    path = image_dir() / "current" / name
    return path if path.is_file() else None


class Cpio:
    """A cpio archive in the "newc" format the kernel unpacks, built in memory."""

    def __init__(self):
        self.out = io.BytesIO()
        self.inode = 0

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple = (0, 0)) -> None:
        self.inode += 1
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, 1, MTIME, len(data), 0, 0, *rdev, len(encoded), 0)
        self.out.write(b"070701" + b"".join(b"%08X" % field for field in fields) + encoded)
        self.out.write(b"\0" * (-(110 + len(encoded)) % 4))
        self.out.write(data + b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, executable: bool = False) -> None:
        self._entry(name, 0o100755 if executable else 0o100644, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.out.getvalue()


def load_order(module_dir: Path, wanted=WANTED_MODULES) -> list[Path]:
    """The wanted modules the kernel has, after everything each depends on (the package
    ships no modules.dep: dependencies are read from each module's .modinfo)."""
    modules = {
        path.name.split(".ko")[0].replace("-", "_"): path for path in module_dir.rglob("*.ko*")
    }
    order: list[Path] = []

    def visit(name: str) -> None:
        path = modules[name]
        if path in order:
            return
        found = DEPENDS.search(path.read_bytes())
        for dependency in filter(None, (found.group(1).decode().split(",") if found else [])):
            visit(dependency.replace("-", "_"))
        order.append(path)

    for name in wanted:
        if name in modules:
            visit(name)
    return order


def _debian_tool(name: str, *arguments: str, cwd: Path | None = None) -> None:
    """Run apt-get or dpkg-deb (arguments are pinned package names and paths, no shell)."""
    tool = shutil.which(name)
    if tool is None:
        raise BuildError(f"{name} is missing: build the agent image on Debian.")
    subprocess.run(  # noqa: S603
        [tool, *arguments], cwd=cwd, check=True, capture_output=True, text=True
    )


def _apt_download(packages: list[str], into: Path) -> list[Path]:
    into.mkdir(parents=True, exist_ok=True)
    try:
        _debian_tool("apt-get", "download", "-q", *packages, cwd=into)
    except subprocess.CalledProcessError as exc:
        raise BuildError(
            f"apt-get download {' '.join(packages)} failed ({exc.stderr.strip()}); "
            "run apt-get update, or pin the versions `apt-cache policy` offers."
        ) from exc
    debs = []
    for package in packages:
        name, version = package.split("=")
        version = version.split(":")[-1]  # the epoch is not in the file name
        matches = sorted(into.glob(f"{name}_*{version}_*.deb"))
        if not matches:
            raise BuildError(f"apt-get download left no .deb for {package} in {into}.")
        debs.append(matches[0])
    return debs


def cache_key(packages: list[str]) -> str:
    digest = hashlib.sha256("\n".join(packages).encode())
    for path in sorted(AGENT_SOURCE.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(Path(__file__).read_bytes())  # how it is put together
    return digest.hexdigest()[:16]


def _library(root: Path, name: str) -> bytes:
    """A shared library by its soname, wherever its package put it (symlinks followed)."""
    for directory in (LIBRARY_DIR, f"usr/{LIBRARY_DIR}"):
        path = root / directory / name
        if path.exists():
            return path.resolve().read_bytes()
    raise BuildError(f"No {name} in the SSH packages.")


def _initramfs(root: Path, modules: list[Path]) -> bytes:
    archive = Cpio()
    directories = ["bin", "dev", "dev/pts", "etc", "etc/dropbear", "lib", LIBRARY_DIR]
    directories += ["lib/modules", "lib64", "proc", "root", "sys", "tmp", "usr", "usr/sbin"]
    directories += ["var", "var/run"]
    for directory in sorted(directories):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.file("bin/busybox", (root / "bin/busybox").read_bytes(), executable=True)
    archive.symlink("bin/sh", "busybox")
    archive.file("usr/sbin/dropbear", (root / "usr/sbin/dropbear").read_bytes(), True)
    for name in SSH_LIBRARIES:
        archive.file(f"{LIBRARY_DIR}/{name}", _library(root, name), executable=True)
    archive.symlink("lib64/ld-linux-x86-64.so.2", f"/{LIBRARY_DIR}/ld-linux-x86-64.so.2")
    archive.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    archive.file("etc/group", b"root:x:0:\n")
    archive.file("etc/shadow", b"root:!:19000:0:99999:7:::\n")
    archive.file("etc/profile", b"export PS1='root@rescue:\\w# '\n")
    archive.file("etc/udhcpc.script", (AGENT_SOURCE / "udhcpc.script").read_bytes(), True)
    archive.file("init", (AGENT_SOURCE / "init").read_bytes(), executable=True)
    names = []
    for module in modules:
        name = module.name.split(".ko")[0]
        names.append(name)
        archive.file(f"lib/modules/{name}.ko", module.read_bytes())
    archive.file("lib/modules/load-order", "".join(f"{name}\n" for name in names).encode())
    return gzip.compress(archive.finish(), compresslevel=9, mtime=MTIME)


def _publish(built: Path) -> None:
    """Make `built` the current image atomically (a symlink swap)."""
    link = image_dir() / "current"
    temporary = image_dir() / f".current-{time.monotonic_ns()}"
    temporary.symlink_to(built.relative_to(image_dir()), target_is_directory=True)
    temporary.replace(link)


def build(*, kernel_package: str = KERNEL_PACKAGE, busybox_package: str = BUSYBOX_PACKAGE) -> Built:
    """Build (or take from the cache) the image for these pinned packages; make it current."""
    packages = [kernel_package, busybox_package, *SSH_PACKAGES]
    if any(package.count("=") != 1 for package in packages):
        raise BuildError("Pin each package as name=version (see `apt-cache policy name`).")
    built = image_dir() / "cache" / cache_key(packages)
    manifest_path = built / "manifest.json"
    if manifest_path.is_file():
        _publish(built)
        return Built(built, json.loads(manifest_path.read_text()), cached=True)
    started = time.monotonic()
    debs = _apt_download(packages, image_dir() / "cache" / "debs")
    with tempfile.TemporaryDirectory(dir=image_dir() / "cache") as scratch:
        root = Path(scratch) / "root"
        for deb in debs:
            _debian_tool("dpkg-deb", "-x", str(deb), str(root))
        kernels = sorted((root / "boot").glob("vmlinuz-*"))
        if not kernels or not (root / "bin/busybox").is_file():
            raise BuildError(f"{kernel_package} has no /boot/vmlinuz-*, or busybox is missing.")
        if not (root / "usr/sbin/dropbear").is_file():
            raise BuildError("dropbear-bin has no /usr/sbin/dropbear.")
        release = kernels[0].name.removeprefix("vmlinuz-")
        modules = load_order(root / "lib/modules" / release)
        staging = Path(scratch) / "image"
        staging.mkdir()
        shutil.copyfile(kernels[0], staging / "vmlinuz")
        (staging / "initrd.gz").write_bytes(_initramfs(root, modules))
        manifest = {
            "packages": packages,
            "kernel_release": release,
            "modules": [module.name.split(".ko")[0] for module in modules],
            "files": {
                name: {
                    "bytes": (staging / name).stat().st_size,
                    "sha256": hashlib.sha256((staging / name).read_bytes()).hexdigest(),
                }
                for name in FILES
            },
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        staging.replace(built)
    _publish(built)
    return Built(built, manifest, cached=False)
