"""The machine's side of disk imaging: pieces the agent image sends and fetches.

A capture's agent reads each disk in pieces of `chunk_mib` MiB, gzips each in its memory
and posts it to /boot/disks/<ticket>/<disk>/<index> with the SHA-256 of its raw bytes; the
panel inflates it (bounded) to check that digest, counts it against the owner's quota and
keeps the gzipped piece in Django's default storage (the filesystem, or object storage
through django-storages). Sealing reads the pieces back from storage for each disk's
SHA-256. A restore's agent fetches the same pieces in order, writes them and checks that
digest against what it reads back from its disk.
"""

import base64
import binascii
import hashlib
import re
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone

from provisioning.models import BootTicket, DiskImage, Operation

INFLATE_BLOCK = 2**20
READ_BLOCK = 2**20
# A kernel block device's name (sda, vda, nvme0n1, mmcblk0): it goes into storage paths,
# the agent's scripts and /dev/ paths, so nothing else is taken from a machine's report.
DISK_NAME = r"^[a-z][a-z0-9]{1,31}\Z"


class BadPiece(Exception):
    """The piece cannot be kept; the message says why, for the agent's log."""


@dataclass(frozen=True)
class PieceAnswer:
    status: int
    body: dict


def piece_limit(image: DiskImage) -> int:
    return image.chunk_mib * 2**20


def piece_body_limit() -> int:
    """The largest piece body taken: base64 (4/3 and line breaks) of a gzipped piece, which
    is slightly larger than the piece when its data does not compress."""
    return settings.PANEL_IMAGE_PIECE_MIB * 2**20 * 3 // 2 + 2**16


def _inflated_digest(compressed: bytes, limit: int) -> tuple[str, int]:
    """SHA-256 and length of one gzip member's content, refusing more than `limit` bytes."""
    inflater = zlib.decompressobj(wbits=31)
    digest, length, pending = hashlib.sha256(), 0, compressed
    try:
        while pending and not inflater.eof:
            out = inflater.decompress(pending, INFLATE_BLOCK)
            length += len(out)
            if length > limit:
                raise BadPiece(f"The piece inflates to more than {limit} bytes.")
            digest.update(out)
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise BadPiece(f"The piece is not gzip data: {exc}") from None
    if not inflater.eof or inflater.unused_data:
        raise BadPiece("The piece is not one complete gzip member.")
    return digest.hexdigest(), length


def reported_disks(facts) -> list[dict]:
    """The disks in a machine's hardware facts that have a block device's name and a size in
    bytes, in its order; the others are left out."""
    disks = facts.get("disks") if isinstance(facts, dict) else None
    return [
        disk
        for disk in (disks if isinstance(disks, list) else [])
        if isinstance(disk, dict)
        and isinstance(disk.get("name"), str)
        and re.match(DISK_NAME, disk["name"])
        and isinstance(disk.get("size_bytes"), int)
        and not isinstance(disk["size_bytes"], bool)
        and disk["size_bytes"] > 0
    ]


def _disk(image: DiskImage, name: str) -> dict | None:
    return next((disk for disk in image.disks if disk["name"] == name), None)


def _image_of(ticket: BootTicket, kind: str) -> DiskImage | None:
    op = ticket.operation
    if op.kind != kind or ticket.state != BootTicket.State.CONFIG_FETCHED:
        return None
    return DiskImage.objects.select_for_update().filter(pk=op.params.get("image")).first()


def stored_by(owner) -> int:
    """The compressed bytes `owner`'s images hold (what the byte quota counts)."""
    images = DiskImage.objects.filter(owner=owner)
    return images.aggregate(total=Sum("stored_bytes"))["total"] or 0


@transaction.atomic
def receive_piece(ticket: BootTicket, disk: str, index: int, encoded: bytes, sha256: str):
    """Keep piece `index` of `disk` for the ticket's capture (sent again: replaced)."""
    image = _image_of(ticket, Operation.Kind.CAPTURE)
    entry = _disk(image, disk) if image and image.state == DiskImage.State.CAPTURING else None
    if entry is None or index > len(entry["pieces"]):
        return PieceAnswer(404, {"detail": "No such disk or piece in this capture."})
    limit = piece_limit(image)
    try:  # base64 as busybox writes it: lines of the alphabet, nothing else
        body = base64.b64decode(encoded.translate(None, b"\r\n"), validate=True)
        digest, length = _inflated_digest(body, limit)
    except binascii.Error:
        return PieceAnswer(400, {"detail": "The piece is not base64."})
    except BadPiece as exc:
        return PieceAnswer(400, {"detail": str(exc)})
    if digest != sha256.lower():
        return PieceAnswer(400, {"detail": "The piece does not match its SHA-256."})
    if not length:
        return PieceAnswer(400, {"detail": "The piece is empty."})
    # restore_disk writes piece i at i * chunk_mib: only a disk's last piece may be short.
    after_short = index > 0 and entry["pieces"][index - 1]["bytes"] < limit
    short_within = length < limit and index < len(entry["pieces"]) - 1
    if after_short or short_within:
        detail = f"Only a disk's last piece may be shorter than {image.chunk_mib} MiB."
        return PieceAnswer(400, {"detail": detail})
    replaced = entry["pieces"][index] if index < len(entry["pieces"]) else None
    growth = len(body) - (replaced["stored"] if replaced else 0)
    owner = image.owner
    if not owner.is_admin and stored_by(owner) + growth > settings.PANEL_IMAGE_QUOTA_BYTES:
        quota = settings.PANEL_IMAGE_QUOTA_BYTES / 1e9
        return PieceAnswer(413, {"detail": f"The owner's images would exceed {quota:g} GB."})
    name = image.piece_name(disk, index)
    default_storage.delete(name)
    stored = default_storage.save(name, ContentFile(body))
    if stored != name:  # the storage renamed it: someone else wrote there meanwhile
        default_storage.delete(stored)
        return PieceAnswer(409, {"detail": "The piece was written twice at once."})
    piece = {"sha256": digest, "stored": len(body), "bytes": length}
    if replaced:
        entry["pieces"][index] = piece
    else:
        entry["pieces"].append(piece)
    entry["bytes"] = sum(piece["bytes"] for piece in entry["pieces"])
    image.stored_bytes += growth
    image.save(update_fields=["disks", "stored_bytes"])
    return PieceAnswer(201, {"disk": disk, "index": index, "bytes": length})


@transaction.atomic
def restore_piece(ticket: BootTicket, disk: str, index: int):
    """Piece `index` of `disk` of the image the ticket's restore writes, open; or None."""
    image = _image_of(ticket, Operation.Kind.RESTORE)
    entry = _disk(image, disk) if image and image.state == DiskImage.State.READY else None
    if entry is None or index >= len(entry["pieces"]):
        return None
    return default_storage.open(image.piece_name(disk, index), "rb")


def _stored_digest(image: DiskImage, disk: dict) -> str:
    digest = hashlib.sha256()
    for index in range(len(disk["pieces"])):
        inflater = zlib.decompressobj(wbits=31)
        with default_storage.open(image.piece_name(disk["name"], index), "rb") as piece:
            while block := piece.read(READ_BLOCK):
                digest.update(inflater.decompress(block))
        digest.update(inflater.flush())
    return digest.hexdigest()


def seal(image_id: int) -> DiskImage:
    """The capture has ended well: every disk's SHA-256 from what storage holds; ready."""
    image = DiskImage.objects.get(pk=image_id)
    if image.state == DiskImage.State.READY:
        return image  # sealed by an earlier run of this step
    for disk in image.disks:
        if not disk["pieces"]:
            raise BadPiece(f"Nothing of disk {disk['name']} was received.")
        disk["sha256"] = _stored_digest(image, disk)
    image.state, image.ready_at = DiskImage.State.READY, timezone.now()
    image.save(update_fields=["disks", "state", "ready_at"])
    return image


def discard_pieces(image: DiskImage) -> None:
    for disk in image.disks:
        for index in range(len(disk["pieces"])):
            default_storage.delete(image.piece_name(disk["name"], index))


def fail_capture(image_id: int) -> None:
    """The capture failed or was cancelled: the image and its pieces go (its name is free
    again, and nothing half-captured counts against the quota)."""
    image = DiskImage.objects.filter(pk=image_id, state=DiskImage.State.CAPTURING).first()
    if image is None:
        return
    discard_pieces(image)
    image.delete()


def _bands(disks: list, low: int = 10, high: int = 95) -> list[dict]:
    """Each disk with the share of the operation's progress it reports over."""
    count = len(disks)
    return [
        {
            **disk,
            "from": low + (high - low) * index // count,
            "to": low + (high - low) * (index + 1) // count,
        }
        for index, disk in enumerate(disks)
    ]


def capture_script(op: Operation, context: dict) -> str:
    image = DiskImage.objects.get(pk=op.params["image"])
    disks = _bands([{"name": name} for name in op.params["disks"]])
    return render_to_string(
        "provisioning/boot/capture.sh",
        {**context, "image": image.name, "chunk_mib": image.chunk_mib, "disks": disks},
    )


def restore_script(op: Operation, context: dict) -> str:
    image = DiskImage.objects.get(pk=op.params["image"])
    disks = _bands(
        [
            {**_disk(image, mapping["name"]), "target": mapping["target"]}
            for mapping in op.params["disks"]
        ]
    )
    for disk in disks:
        disk["piece_count"] = len(disk["pieces"])
    return render_to_string(
        "provisioning/boot/restore.sh",
        {**context, "image": image.name, "chunk_mib": image.chunk_mib, "disks": disks},
    )
