"""Staff actions on selected servers that start operations, each through the same
service as the API and the portal; the server admin offers them before inventory's own,
and its page offers them one server at a time (PROVISIONING_PAGE_ACTIONS). Every message
links the operations started."""

from functools import partial

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from inventory.admin_actions import ask_then_each_server, each_server
from inventory.admin_pages import PageAction, ServerForm
from panel.models import SshKey
from provisioning import installers
from provisioning import services as provisioning_services
from provisioning.bmc import BOOT_DEVICES
from provisioning.models import DiskImage, Operation, OsTemplate, RescueSession


def operation_link(operation: Operation) -> str:
    """`operation #12`, linked to its admin page (HTML-safe)."""
    url = reverse("admin:provisioning_operation_change", args=[operation.pk])
    return format_html('<a href="{}">operation #{}</a>', url, operation.pk)


def _with_operation(server, operation: Operation) -> str:
    return format_html("{} ({})", server.name, operation_link(operation))


def _action(name: str, description: str, done: str, start):
    """An action that calls `start(actor=..., server=...)` for each selected server."""

    @admin.action(description=description)
    def run(modeladmin, request, queryset):
        each_server(
            modeladmin,
            request,
            queryset,
            done,
            lambda server: start(actor=request.user, server=server),
            _with_operation,
        )

    run.__name__ = name
    return run


def _power(action: str, label: str):
    start = partial(provisioning_services.request_power, action=action)
    return _action(f"power_{action}", f"{label} (BMC)", f"{label} requested", start)


power_on = _power("on", "Power on")
power_off = _power("off", "Power off")
power_cycle = _power("cycle", "Power cycle")

POWER_LABELS = {
    "on": "Power on",
    "off": "Power off",
    "soft_off": "Graceful shutdown (ACPI)",
    "reset": "Reset",
    "cycle": "Power cycle",
}
BOOT_DEVICE_LABELS = {
    "pxe": "Network (PXE)",
    "disk": "Local disk",
    "cdrom": "CD/DVD (virtual media)",
    "bios": "BIOS setup",
}


class PowerForm(ServerForm):
    action = forms.ChoiceField(label="Power", choices=list(POWER_LABELS.items()))
    force = forms.BooleanField(
        label="Even in rescue",
        required=False,
        help_text="If the server is in the rescue system, end the rescue (audited)",
    )


class BootDeviceForm(ServerForm):
    device = forms.ChoiceField(
        label="Boot device",
        choices=[(device, BOOT_DEVICE_LABELS[device]) for device in BOOT_DEVICES],
    )
    persistent = forms.BooleanField(
        label="Every boot", required=False, help_text="Otherwise for the next boot only"
    )


@admin.action(description="Set boot device…")
def set_boot_device(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        BootDeviceForm,
        "Set the boot device",
        lambda data: f"Boot device {BOOT_DEVICE_LABELS[data['device']]} requested",
        lambda server, data: provisioning_services.request_boot_device(
            actor=request.user, server=server, **data
        ),
        _with_operation,
    )


class OwnersKeysForm(ServerForm):
    """On a server's page the owner's saved SSH keys are offered; on a bulk action (many
    servers, many owners) only pasted keys."""

    ssh_keys = forms.ModelMultipleChoiceField(
        label="The owner's saved SSH keys",
        queryset=SshKey.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    ssh_key_texts = forms.CharField(
        label="Other SSH public keys",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="OpenSSH public keys, one a line, that root logs in with.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.server is not None and self.server.owner_id:
            self.fields["ssh_keys"].queryset = SshKey.objects.filter(user=self.server.owner_id)
        else:
            del self.fields["ssh_keys"]


class StaffReinstallForm(OwnersKeysForm):
    field_order = ["os_template", "raid", "password", "ssh_keys", "ssh_key_texts"]

    os_template = forms.ModelChoiceField(
        label="OS template", queryset=OsTemplate.objects.filter(is_utility=False)
    )
    raid = forms.ChoiceField(
        label="RAID",
        choices=list(installers.RAID_LABELS.items()),
        help_text="Checked against each server's disk count.",
    )
    password = forms.CharField(
        label="Root password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="A password, SSH keys, or both.",
    )
    ssh_key_texts = forms.CharField(
        label="Other SSH public keys",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="OpenSSH public keys, one a line; installed for this install only.",
    )
    reboot = forms.ChoiceField(
        choices=[("auto", "Reboot automatically"), ("manual", "Staff reboot it by hand")]
    )
    force = forms.BooleanField(
        label="Even in rescue",
        required=False,
        help_text="If the server is in the rescue system, end the rescue (audited)",
    )


def install(actor, server, data: dict) -> Operation:
    """Start the install a StaffReinstallForm asked for."""
    return provisioning_services.start_install(
        actor=actor,
        server=server,
        template=data["os_template"],
        raid=data["raid"],
        password=data["password"],
        ssh_keys=list(data.get("ssh_keys") or ()),
        ssh_key_texts=[line for line in data["ssh_key_texts"].splitlines() if line.strip()],
        reboot=data["reboot"],
        force=data["force"],
    )


@admin.action(description="Reinstall OS…")
def reinstall(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        StaffReinstallForm,
        "Reinstall: every disk is erased",
        lambda data: f"Reinstall of {data['os_template'].name} started",
        lambda server, data: install(request.user, server, data),
        _with_operation,
    )


class SuspendForm(ServerForm):
    reason = forms.CharField(
        max_length=200,
        required=False,
        help_text="Shown to the customer, e.g. 'Invoice 1234 unpaid'",
    )


@admin.action(description="Suspend (switch ports down)…")
def suspend(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        SuspendForm,
        "Suspend: the customer loses the network, power and reinstall",
        lambda data: "Suspend requested",
        lambda server, data: provisioning_services.request_suspend(
            actor=request.user, server=server, reason=data["reason"]
        ),
        _with_operation,
    )


resume = _action(
    "resume", "Resume (switch ports up)", "Resume requested", provisioning_services.request_resume
)


class RescueForm(OwnersKeysForm):
    """Staff boot the rescue system with SSH keys: the owner's saved ones (on a server's
    page) or pasted ones. A one-time password is for the API and the portal, which show it
    on their answer; a message here would keep it in the session."""


def start_rescue(actor, server, data: dict) -> Operation:
    """Start the rescue a RescueForm asked for."""
    saved = [key.public_key for key in data.get("ssh_keys") or ()]
    pasted = [line for line in data["ssh_key_texts"].splitlines() if line.strip()]
    return provisioning_services.start_rescue(
        actor=actor, server=server, ssh_keys=saved + pasted
    ).operation


@admin.action(description="Rescue system…")
def rescue(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        RescueForm,
        "Boot the rescue system: each server is restarted",
        lambda data: "Rescue system requested",
        lambda server, data: start_rescue(request.user, server, data),
        _with_operation,
    )


rescue_exit = _action(
    "rescue_exit",
    "Leave the rescue system",
    "Rescue exit requested",
    provisioning_services.request_rescue_exit,
)


def _outlets(action: str, label: str):
    start = partial(provisioning_services.request_outlet_power, action=action)
    done = f"{label} of the PDU outlets requested"
    return _action(f"pdu_{action}", f"{label} (PDU outlets)", done, start)


pdu_on = _outlets("on", "Power on")
pdu_off = _outlets("off", "Power off")
pdu_cycle = _outlets("cycle", "Power cycle")

OPERATION_ACTIONS = [
    power_on,
    power_off,
    power_cycle,
    set_boot_device,
    reinstall,
    rescue,
    rescue_exit,
    suspend,
    resume,
    pdu_cycle,
    pdu_off,
    pdu_on,
]


class DiagnosticsForm(ServerForm):
    wipe = forms.ChoiceField(
        label="Then wipe the disks",
        choices=[("none", "No"), ("simple", "Quick (signatures)"), ("full", "Every block")],
    )


class WipeForm(ServerForm):
    mode = forms.ChoiceField(
        label="Wipe", choices=[("simple", "Quick (signatures)"), ("full", "Every block")]
    )


class CaptureForm(ServerForm):
    name = forms.RegexField(
        regex=r"^[\w][\w .:+-]*$", max_length=100, help_text="Unique among the owner's images"
    )
    disks = forms.CharField(
        required=False,
        help_text="Disk names as diagnostics reported them, separated by spaces; all if empty",
    )


def capture(actor, server, data: dict) -> Operation:
    operation, _image = provisioning_services.start_capture(
        actor=actor, server=server, name=data["name"], disks=data["disks"].split()
    )
    return operation


class RestoreForm(ServerForm):
    image = forms.ModelChoiceField(
        queryset=DiskImage.objects.filter(state=DiskImage.State.READY).select_related("owner"),
        help_text="The owner's; its disks are written over this server's, in order",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.server is not None:
            images = self.fields["image"].queryset
            self.fields["image"].queryset = images & provisioning_services.restorable_images(
                self.server
            )


def in_rescue(server) -> bool:
    return RescueSession.objects.current().filter(server=server).exists()


def _starts(done: str, service):
    """A page action's run: `service(actor=, server=, **the form's fields)` queues the
    operation (each form's fields are named as its service's arguments)."""

    def run(actor, server, data) -> str:
        operation = service(actor=actor, server=server, **data)
        return format_html("{}: {}.", done, operation_link(operation))

    return run


PROVISIONING_PAGE_ACTIONS = [
    PageAction(
        "power",
        "Request",
        PowerForm,
        _starts("Power action requested", provisioning_services.request_power),
    ),
    PageAction(
        "boot-device",
        "Set the boot device",
        BootDeviceForm,
        _starts("Boot device requested", provisioning_services.request_boot_device),
    ),
    PageAction(
        "reinstall",
        "Reinstall the OS (erases every disk)",
        StaffReinstallForm,
        _starts("Reinstall started", lambda actor, server, **data: install(actor, server, data)),
        inline=False,
        danger=True,
    ),
    PageAction(
        "rescue",
        "Boot the rescue system",
        RescueForm,
        _starts(
            "Rescue system requested",
            lambda actor, server, **data: start_rescue(actor, server, data),
        ),
        shown=lambda server: not in_rescue(server),
    ),
    PageAction(
        "rescue-exit",
        "Leave the rescue system",
        ServerForm,
        _starts("Rescue exit requested", provisioning_services.request_rescue_exit),
        shown=in_rescue,
    ),
    PageAction(
        "diagnostics",
        "Run diagnostics",
        DiagnosticsForm,
        _starts("Diagnostics started", provisioning_services.start_diagnostics),
    ),
    PageAction(
        "wipe",
        "Wipe the disks",
        WipeForm,
        _starts("Disk wipe started", provisioning_services.start_wipe),
        danger=True,
    ),
    PageAction(
        "capture",
        "Capture a disk image",
        CaptureForm,
        _starts("Capture started", lambda actor, server, **data: capture(actor, server, data)),
    ),
    PageAction(
        "restore",
        "Restore a disk image (overwrites its disks)",
        RestoreForm,
        _starts("Restore started", provisioning_services.start_restore),
        danger=True,
    ),
    PageAction(
        "suspend",
        "Suspend (switch ports down)",
        SuspendForm,
        _starts("Suspend requested", provisioning_services.request_suspend),
        shown=lambda server: not server.suspended,
        danger=True,
    ),
    PageAction(
        "resume",
        "Resume (switch ports up)",
        ServerForm,
        _starts("Resume requested", provisioning_services.request_resume),
        shown=lambda server: server.suspended,
    ),
]
