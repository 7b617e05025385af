"""Staff actions on selected servers that start operations, each through the same
service as the API and the portal; the server admin offers them before inventory's own."""

from functools import partial

from django import forms
from django.contrib import admin

from inventory.admin_actions import ask_then_each_server, each_server
from provisioning import installers
from provisioning import services as provisioning_services
from provisioning.bmc import BOOT_DEVICES
from provisioning.models import OsTemplate


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
        )

    run.__name__ = name
    return run


def _power(action: str, label: str):
    start = partial(provisioning_services.request_power, action=action)
    return _action(f"power_{action}", f"{label} (BMC)", f"{label} requested", start)


power_on = _power("on", "Power on")
power_off = _power("off", "Power off")
power_cycle = _power("cycle", "Power cycle")


class BootDeviceForm(forms.Form):
    device = forms.ChoiceField(choices=[(device, device) for device in BOOT_DEVICES])
    persistent = forms.BooleanField(required=False, help_text="Otherwise for the next boot only")


@admin.action(description="Set boot device…")
def set_boot_device(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        BootDeviceForm,
        "Set the boot device",
        lambda data: f"Boot device {data['device']} requested",
        lambda server, data: provisioning_services.request_boot_device(
            actor=request.user, server=server, **data
        ),
    )


class StaffReinstallForm(forms.Form):
    os_template = forms.ModelChoiceField(queryset=OsTemplate.objects.filter(is_utility=False))
    raid = forms.ChoiceField(
        choices=[(layout, layout) for layout in installers.RAID_LAYOUTS],
        help_text="Checked against each server's disk count.",
    )
    password = forms.CharField(
        label="Root password", strip=False, widget=forms.PasswordInput(render_value=False)
    )
    reboot = forms.ChoiceField(choices=[("auto", "Reboot automatically"), ("manual", "Manual")])


@admin.action(description="Reinstall OS…")
def reinstall(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        StaffReinstallForm,
        "Reinstall: every disk is erased",
        lambda data: f"Reinstall of {data['os_template'].name} started",
        lambda server, data: provisioning_services.start_install(
            actor=request.user,
            server=server,
            template=data["os_template"],
            raid=data["raid"],
            password=data["password"],
            reboot=data["reboot"],
        ),
    )


class SuspendForm(forms.Form):
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
    )


resume = _action(
    "resume", "Resume (switch ports up)", "Resume requested", provisioning_services.request_resume
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
    suspend,
    resume,
    pdu_cycle,
    pdu_off,
    pdu_on,
]
