"""Disk image capture and restore: the PXE path of the utility image, with the panel's own
script for the agent and what the end of each means for the image and the server."""

from dataclasses import replace

from django.utils import timezone

from inventory.models import Server
from provisioning import imaging
from provisioning.models import DiskImage, Operation
from provisioning.workflows import pxe
from provisioning.workflows.base import Done, Step, StepFailed


def finalize_capture(op: Operation, driver, observe) -> Done:
    try:
        image = imaging.seal(op.params["image"])
    except imaging.BadPiece as exc:
        raise StepFailed(str(exc)) from None
    done = pxe.finalize(op, driver, observe)
    checksums = {disk["name"]: disk["sha256"] for disk in image.disks}
    return Done(
        f"The image {image.name} is ready; the server boots from its disk.",
        {**done.result, "image": image.pk, "sha256": checksums},
    )


def finalize_restore(op: Operation, driver, observe) -> Done:
    image = DiskImage.objects.filter(pk=op.params["image"]).first()
    source_os = image.source_os if image else ""
    Server.objects.filter(pk=op.server_id).update(current_os=source_os, updated_at=timezone.now())
    done = pxe.finalize(op, driver, observe)
    return Done(
        f"{op.params['image_name']} is restored; the server boots from its disk.",
        {**done.result, "image": op.params["image"]},
    )


def abandon_capture(op: Operation, driver) -> None:
    pxe.abandon(op, driver)
    discard_image(op)


def discard_image(op: Operation) -> None:
    imaging.fail_capture(op.params["image"])


CAPTURE = replace(
    pxe.PXE,
    steps={**pxe.PXE.steps, "finalize": Step(finalize_capture, label="Seal the image")},
    abandon=abandon_capture,
    cancelled_before_start=discard_image,
    machine_script=imaging.capture_script,
)
RESTORE = replace(
    pxe.PXE,
    steps={**pxe.PXE.steps, "finalize": Step(finalize_restore, label="Boot from disk")},
    machine_script=imaging.restore_script,
)
WORKFLOWS = {Operation.Kind.CAPTURE: CAPTURE, Operation.Kind.RESTORE: RESTORE}
