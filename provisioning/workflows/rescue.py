"""The rescue system, and leaving it.

rescue: the utility image booted in rescue mode over the install's PXE path (boot ticket,
events): set_network_boot -> reboot -> wait_pxe -> booting -> ready. The rescue system
reports `done` once root may log in (the customer's keys, or the one-time password whose
hash its config carries); `ready` points the next boot at the disk again. The server is
then in rescue (its RescueSession) until rescue_exit, which staff, the owner or the time
limit (services.end_expired_rescues) start: set_disk_boot -> restart.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from panel import audit
from provisioning.models import BootTicket, Operation, RescueSession
from provisioning.workflows import pxe
from provisioning.workflows.base import CancelRule, Done, Next, Park, Step, StepFailed, Workflow
from provisioning.workflows.bmc import BMC

Ticket = BootTicket.State


def wait_pxe(op: Operation, driver, observe) -> Next | Park:
    if op.ticket.state == Ticket.ISSUED:
        return Park()
    return Next("booting", 40, "")


def booting(op: Operation, driver, observe) -> Next | Park:
    ticket = op.ticket
    if ticket.state == Ticket.DONE:
        return Next("ready", 90, "The rescue system is up.")
    if ticket.state == Ticket.FAILED:
        raise StepFailed(
            f"The rescue system reported a failure: {ticket.message or 'no reason given'}"
        )
    if ticket.state == Ticket.REVOKED:
        raise StepFailed("The boot ticket was revoked.")
    return Park()


def ready(op: Operation, driver, observe) -> Done:
    driver.set_boot_device("disk")
    result = {"boot_device": "disk", "power_state": observe(driver.power_state())}
    return Done("The server is in the rescue system; its next boot is from its disk.", result)


def started(op: Operation) -> None:
    """In the finishing transaction: the server is in rescue from now, until the time limit."""
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.PANEL_RESCUE_MAX_SECONDS)
    RescueSession.objects.filter(operation=op).update(started_at=now, expires_at=expires_at)
    audit.record(
        actor=None,
        action="rescue.started",
        target=op.server,
        operation=op.pk,
        expires_at=expires_at.isoformat(),
    )


def abandon(op: Operation, driver) -> None:
    """The rescue system did not come up (or the boot was cancelled): nothing to leave."""
    pxe.abandon(op, driver)
    RescueSession.objects.open().filter(operation=op).update(
        ended_at=timezone.now(), end_reason="The rescue system did not come up."
    )


def rescue_boot_seconds(op: Operation) -> float:
    return settings.PANEL_RESCUE_BOOT_SECONDS


def no_rescue_report(op: Operation) -> str:
    return f"Step '{op.step}': The rescue system did not report that it is up in time."


RESCUE = Workflow(
    device=BMC,
    first="set_network_boot",
    steps={
        "set_network_boot": Step(pxe.set_network_boot, label="Next boot from the network"),
        "reboot": Step(pxe.reboot, label="Reboot"),
        "wait_pxe": Step(
            wait_pxe,
            window=pxe.pxe_boot_seconds,
            late=pxe.no_network_boot,
            talks_to_device=False,
            label="Network boot",
        ),
        "booting": Step(
            booting,
            window=rescue_boot_seconds,
            late=no_rescue_report,
            talks_to_device=False,
            label="Rescue system starting",
        ),
        "ready": Step(ready, label="In the rescue system"),
    },
    cancel=CancelRule(
        open=pxe.before_config_fetched,
        take=pxe.revoke_unfetched_ticket,
        refusal=lambda op: (
            f"Operation #{op.pk} can no longer be cancelled: the rescue system has started. "
            "Leave it with rescue exit once it is up."
        ),
    ),
    abandon=abandon,
    outcome_reported=pxe.outcome_reported,
    succeeded=started,
)


def set_disk_boot(op: Operation, driver, observe) -> Next:
    driver.set_boot_device("disk")
    return Next("restart", 40, "Next boot from the disk.")


def restart(op: Operation, driver, observe) -> Done:
    if observe(driver.power_state()) == "on":
        driver.power("cycle")
        message = "Power-cycled the server; it boots from its disk."
    else:
        driver.power("on")
        message = "The server was off; powered it on; it boots from its disk."
    return Done(message, {"boot_device": "disk"})


def left(op: Operation) -> None:
    """In the finishing transaction: the server is out of rescue."""
    RescueSession.objects.open().filter(server=op.server_id).update(
        ended_at=timezone.now(), end_reason=op.params.get("reason", "")
    )
    audit.record(
        actor=None,
        action="rescue.ended",
        target=op.server,
        operation=op.pk,
        reason=op.params.get("reason", ""),
    )


RESCUE_EXIT = Workflow(
    device=BMC,
    first="set_disk_boot",
    steps={"set_disk_boot": Step(set_disk_boot), "restart": Step(restart)},
    succeeded=left,
)
WORKFLOWS = {Operation.Kind.RESCUE: RESCUE, Operation.Kind.RESCUE_EXIT: RESCUE_EXIT}
