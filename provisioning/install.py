"""Install, diagnostics and wipe: the PXE path, one idempotent step at a time.

set_network_boot -> reboot (or wait for the owner's reboot) -> wait_pxe -> installing
-> finalize. The two waiting steps park the operation (no worker waits with it): the
boot endpoints queue it again when the machine boots, and when the installer reports
done or failed; recovery (every few seconds, in each worker process) notices a parked
operation's deadline.
"""

from django.conf import settings

from inventory.models import Server
from provisioning.bmc import BmcError
from provisioning.models import BootTicket, Operation, OperationEvent
from provisioning.power import Done, Next, Park, StepFailed

Ticket = BootTicket.State
# Operation progress while the installer runs: its own 0-100 maps onto this band.
INSTALLING_BAND = (30, 95)
KINDS = (Operation.Kind.INSTALL, Operation.Kind.DIAGNOSTICS, Operation.Kind.WIPE)
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
    result = {"boot_device": "disk"}
    if op.kind == Operation.Kind.INSTALL:
        Server.objects.filter(pk=op.server_id).update(current_os=op.params["os_name"])
        result["os"] = op.params["os_name"]
        return Done(f"{op.params['os_name']} is installed; the server boots from its disk.", result)
    if op.params.get("wipe", "none") != "none":
        Server.objects.filter(pk=op.server_id).update(current_os="")  # the disks are blank
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


def cancel_requested(op: Operation) -> bool:
    """The owner asked to cancel (services.cancel_operation) since this worker loaded it."""
    return Operation.objects.filter(pk=op.pk, cancel_requested_at__isnull=False).exists()


def outcome_reported(op: Operation) -> bool:
    """The installer said done or failed: that outcome wins over a deadline passed since."""
    return BootTicket.objects.filter(operation=op, state__in=(Ticket.DONE, Ticket.FAILED)).exists()


def step_window(op: Operation, step: str) -> float | None:
    """Seconds a waiting step may take; None for steps that only talk to the BMC."""
    if step == "wait_pxe":
        manual = op.params.get("reboot") == "manual"
        return settings.PANEL_MANUAL_REBOOT_SECONDS if manual else settings.PANEL_PXE_BOOT_SECONDS
    if step == "installing":
        return settings.PANEL_INSTALL_SECONDS
    return None


def deadline_message(op: Operation) -> str | None:
    if op.step == "wait_pxe":
        return (
            "The server did not boot from the network in time. Check its boot order, that its "
            "PXE NIC has the MAC the panel knows, and the DHCP configuration (dnsmasq_config)."
        )
    if op.step == "installing":
        return "The installer did not report completion in time."
    return None


STEPS = {
    "set_network_boot": set_network_boot,
    "reboot": reboot,
    "wait_pxe": wait_pxe,
    "installing": installing,
    "finalize": finalize,
}
FIRST_STEP = "set_network_boot"
