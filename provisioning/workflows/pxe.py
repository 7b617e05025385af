"""Install, diagnostics and wipe workflows: the PXE path, one idempotent step at a time.

set_network_boot -> reboot (or wait for the owner's reboot) -> wait_pxe -> installing
-> finalize. The two waiting steps park the operation (no worker waits with it): the
boot endpoints queue it again when the machine boots, and when the installer reports
done or failed; recovery (every few seconds, in each worker process) notices a parked
operation's deadline. Until the machine fetches its installer config the owner may
cancel; a failed or cancelled run points the next boot at the disk again.
"""

from django.conf import settings
from django.utils import timezone

from inventory.models import Server
from provisioning.bmc import BmcError
from provisioning.models import BootTicket, Operation, OperationEvent
from provisioning.workflows.base import CancelRule, Done, Next, Park, Step, StepFailed, Workflow
from provisioning.workflows.bmc import BMC

Ticket = BootTicket.State
# Operation progress while the installer runs: its own 0-100 maps onto this band.
INSTALLING_BAND = (30, 95)
# The steps in which the machine may boot from the network: from the reboot the panel sends
# (recorded before it is sent) or asks the owner for. A boot script asked for earlier binds
# no address to the ticket, so nobody can claim an install before its machine is rebooted.
NETBOOT_STEPS = ("reboot", "wait_pxe")


def set_network_boot(op: Operation, driver, observe) -> Next:
    driver.set_boot_device("pxe")
    if op.params.get("reboot") == "manual":
        return Next("wait_pxe", 20, "Next boot from the network. Waiting for you to reboot it.")
    return Next("reboot", 15, "Next boot from the network.")


def reboot(op: Operation, driver, observe) -> Next:
    state = observe(driver.power_state())
    if state == "on":
        driver.power("cycle")
        return Next("wait_pxe", 20, "Power-cycled the server.")
    driver.power("on")
    return Next("wait_pxe", 20, "The server was off; powered it on.")


def wait_pxe(op: Operation, driver, observe) -> Next | Park:
    if op.ticket.state == Ticket.ISSUED:
        return Park()
    return Next("installing", INSTALLING_BAND[0], "")


def installing(op: Operation, driver, observe) -> Next | Park:
    ticket = op.ticket
    if ticket.state == Ticket.DONE:
        return Next("finalize", 96, "The installer reported success.")
    if ticket.state == Ticket.FAILED:
        raise StepFailed(f"The installer reported a failure: {ticket.message or 'no reason given'}")
    if ticket.state == Ticket.REVOKED:
        raise StepFailed("The boot ticket was revoked.")
    return Park()


def finalize(op: Operation, driver, observe) -> Done:
    driver.set_boot_device("disk")
    # The installer has rebooted the machine: read its power now, not at the next sweep.
    result = {"boot_device": "disk", "power_state": observe(driver.power_state())}
    if op.kind == Operation.Kind.INSTALL:
        Server.objects.filter(pk=op.server_id).update(
            current_os=op.params["os_name"], updated_at=timezone.now()
        )
        result["os"] = op.params["os_name"]
        return Done(f"{op.params['os_name']} is installed; the server boots from its disk.", result)
    if op.params.get("wipe", "none") != "none":
        # The disks are blank.
        Server.objects.filter(pk=op.server_id).update(current_os="", updated_at=timezone.now())
        result["wipe"] = op.params["wipe"]
    return Done(f"{op.get_kind_display()} finished; the server boots from its disk.", result)


def abandon(op: Operation, driver) -> None:
    """After a failure or cancel: kill the ticket and point the next boot at the disk again."""
    BootTicket.objects.filter(operation=op).revoke()
    try:
        driver.set_boot_device("disk")
    except BmcError as exc:  # reported; the failure that brought us here still stands
        op.events.create(
            step=op.step,
            level=OperationEvent.Level.WARNING,
            message=f"Could not set the boot device back to disk: {exc.message}",
        )
    else:
        op.events.create(step=op.step, message="Boot device set back to disk.")


def outcome_reported(op: Operation) -> bool:
    return BootTicket.objects.filter(operation=op, state__in=(Ticket.DONE, Ticket.FAILED)).exists()


# Until the machine fetches its installer config, nothing on its disks has changed.
CANCELLABLE_TICKETS = (Ticket.ISSUED, Ticket.BOOTED)


def before_config_fetched(op: Operation) -> bool:
    return BootTicket.objects.filter(operation=op, state__in=CANCELLABLE_TICKETS).exists()


def revoke_unfetched_ticket(op: Operation) -> bool:
    return bool(BootTicket.objects.filter(operation=op).revoke(states=CANCELLABLE_TICKETS))


def installer_started(op: Operation) -> str:
    return (
        f"Operation #{op.pk} can no longer be cancelled: the machine has already "
        "fetched its installer config, and the installer is changing the disks."
    )


def pxe_boot_seconds(op: Operation) -> float:
    manual = op.params.get("reboot") == "manual"
    return settings.PANEL_MANUAL_REBOOT_SECONDS if manual else settings.PANEL_PXE_BOOT_SECONDS


def install_seconds(op: Operation) -> float:
    return settings.PANEL_INSTALL_SECONDS


def no_network_boot(op: Operation) -> str:
    return (
        f"Step '{op.step}': The server did not boot from the network in time. Check its boot "
        "order, that its PXE NIC has the MAC the panel knows, and the DHCP configuration "
        "(dnsmasq_config)."
    )


def no_report(op: Operation) -> str:
    return f"Step '{op.step}': The installer did not report completion in time."


PXE = Workflow(
    device=BMC,
    first="set_network_boot",
    steps={
        "set_network_boot": Step(set_network_boot, label="Next boot from the network"),
        "reboot": Step(reboot, label="Reboot"),
        "wait_pxe": Step(
            wait_pxe,
            window=pxe_boot_seconds,
            late=no_network_boot,
            talks_to_device=False,
            label="Network boot",
        ),
        "installing": Step(
            installing,
            window=install_seconds,
            late=no_report,
            talks_to_device=False,
            label="Installing",
        ),
        "finalize": Step(finalize, label="Boot from disk"),
    },
    cancel=CancelRule(
        open=before_config_fetched, take=revoke_unfetched_ticket, refusal=installer_started
    ),
    abandon=abandon,
    outcome_reported=outcome_reported,
)
WORKFLOWS = dict.fromkeys(
    (Operation.Kind.INSTALL, Operation.Kind.DIAGNOSTICS, Operation.Kind.WIPE), PXE
)
