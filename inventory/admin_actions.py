"""Staff actions on selected servers in the admin: each server goes through the same
service as the API and the portal (so it is checked and audited the same way), and the
result for every server is reported, refusals with their reason."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from inventory import services as inventory_services
from panel.exceptions import PanelError, error_text
from panel.models import User
from provisioning import installers
from provisioning import services as provisioning_services
from provisioning.bmc import BOOT_DEVICES
from provisioning.models import OsTemplate


def _each(modeladmin, request, queryset, done: str, change) -> None:
    """Apply `change(server)` to every selected server; one message for what happened."""
    changed, refused = [], []
    for server in queryset.select_related("bmc", "owner", "profile"):
        try:
            change(server)
        except (PanelError, ValidationError) as exc:
            refused.append(f"{server.name}: {error_text(exc)}")
        else:
            changed.append(server.name)
    if changed:
        modeladmin.message_user(request, f"{done}: {', '.join(changed)}.", messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, "Refused: " + " · ".join(refused), messages.ERROR)


def _power(action: str, label: str):
    @admin.action(description=f"{label} (BMC)")
    def run(modeladmin, request, queryset):
        _each(
            modeladmin,
            request,
            queryset,
            f"{label} requested",
            lambda server: provisioning_services.request_power(
                actor=request.user, server=server, action=action
            ),
        )

    run.__name__ = f"power_{action}"
    return run


power_on = _power("on", "Power on")
power_off = _power("off", "Power off")
power_cycle = _power("cycle", "Power cycle")


def _ask(modeladmin, request, queryset, form_class, title: str, form_kwargs=None):
    """The intermediate page of an action: its form, filled and valid, or None."""
    form_kwargs = form_kwargs or {}
    if "apply" in request.POST:
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            return form, None
    else:
        form = form_class(**form_kwargs)
    page = TemplateResponse(
        request,
        "admin/inventory/server/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "servers": queryset,
            "action": request.POST.get("action", ""),
            "checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )
    return None, page


def _ask_then_each(modeladmin, request, queryset, form_class, title: str, done, change):
    """An action with an intermediate page: its form, then `change(server, data)` for each
    selected server with the form's cleaned data; `done(data)` names what happened."""
    form, page = _ask(modeladmin, request, queryset, form_class, title)
    if form is None:
        return page
    data = form.cleaned_data
    _each(modeladmin, request, queryset, done(data), lambda server: change(server, data))
    return None


class BootDeviceForm(forms.Form):
    device = forms.ChoiceField(choices=[(device, device) for device in BOOT_DEVICES])
    persistent = forms.BooleanField(required=False, help_text="Otherwise for the next boot only")


@admin.action(description="Set boot device…")
def set_boot_device(modeladmin, request, queryset):
    return _ask_then_each(
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
    return _ask_then_each(
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


class OwnerForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(role=User.Role.CUSTOMER, is_active=True).order_by("email")
    )


@admin.action(description="Assign to a customer…")
def assign_owner(modeladmin, request, queryset):
    return _ask_then_each(
        modeladmin,
        request,
        queryset,
        OwnerForm,
        "Assign to a customer",
        lambda data: f"Assigned to {data['owner'].email}",
        lambda server, data: inventory_services.assign_owner(
            actor=request.user, server=server, owner=data["owner"]
        ),
    )


@admin.action(description="Release from its customer")
def release_owner(modeladmin, request, queryset):
    _each(
        modeladmin,
        request,
        queryset,
        "Released",
        lambda server: inventory_services.release_owner(actor=request.user, server=server),
    )


class ConfirmForm(forms.Form):
    """Nothing to fill in: the page lists the servers and asks to go ahead."""


@admin.action(description="Delete from inventory…", permissions=["delete"])
def delete_servers(modeladmin, request, queryset):
    return _ask_then_each(
        modeladmin,
        request,
        queryset,
        ConfirmForm,
        "Delete from inventory",
        lambda data: "Deleted",
        lambda server, data: inventory_services.delete_server(actor=request.user, server=server),
    )


SERVER_ACTIONS = [
    power_on,
    power_off,
    power_cycle,
    set_boot_device,
    reinstall,
    assign_owner,
    release_owner,
    delete_servers,
]
