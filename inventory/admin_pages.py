"""The forms on a server's admin page: each posts to its own URL, goes through the same
service as the API, and comes back to the page with a message; a refusal is shown on the
form (a page of its own, with the form filled in), never a 500. Provisioning adds the
actions that start operations, so that inventory imports nothing from it."""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from inventory import ipam, services
from inventory.models import IpAddress, IpPool, Network, Server
from panel.exceptions import PanelError, error_text
from panel.models import User


class ServerForm(forms.Form):
    """A form about one server (`server`, None on a bulk action's page)."""

    def __init__(self, *args, server: Server | None = None, **kwargs):
        self.server = server
        super().__init__(*args, **kwargs)


@dataclass(frozen=True)
class PageAction:
    """One form on the server page: `run(actor, server, cleaned_data)` calls the service and
    returns the message (HTML-safe) that says what happened."""

    name: str
    title: str
    form: type[ServerForm]
    run: Callable[[User, Server, dict], str]
    shown: Callable[[Server], bool] = lambda server: True
    inline: bool = True  # its form fits on the server page; else a button to its own page
    danger: bool = False


def show_refusal(form: forms.Form, exc: PanelError | ValidationError) -> None:
    """A service's refusal as the form's errors: on the field it names, if the form has one."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error_text(exc))


def page_action_view(modeladmin, request, object_id: str, name: str):
    """GET: the action's form on a page of its own; POST: run it and go back to the server."""
    action = {action.name: action for action in modeladmin.page_actions}.get(name)
    server = modeladmin.get_object(request, unquote(object_id))
    if action is None or server is None:
        raise Http404
    if not modeladmin.has_change_permission(request, server):
        raise PermissionDenied
    posted = request.method == "POST"
    form = action.form(request.POST if posted else None, server=server)
    if posted and form.is_valid():
        try:
            done = action.run(request.user, server, form.cleaned_data)
        except (PanelError, ValidationError) as exc:
            show_refusal(form, exc)
        else:
            modeladmin.message_user(request, done, messages.SUCCESS)
            return redirect("admin:inventory_server_change", server.pk)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{action.title}: {server.name}",
        "action": action,
        "form": form,
        "original": server,
        "opts": modeladmin.model._meta,
    }
    status = 400 if posted else 200
    return TemplateResponse(
        request, "admin/inventory/server/page_action.html", context, status=status
    )


class OwnerForm(ServerForm):
    owner = forms.ModelChoiceField(
        label="Customer",
        queryset=User.objects.filter(role=User.Role.CUSTOMER, is_active=True).order_by("email"),
    )


class AllocateIpForm(ServerForm):
    pool = forms.ModelChoiceField(
        label="IP pool",
        queryset=IpPool.objects.select_related("network").order_by("network__name", "name"),
        required=False,
        help_text="Or a network (its pools in turn); neither: a public IPv4 pool here.",
    )
    network = forms.ModelChoiceField(queryset=Network.objects.order_by("name"), required=False)
    address = forms.CharField(
        label="Exact address", required=False, help_text="Empty: the next free one."
    )
    main = forms.ChoiceField(
        label="Main address",
        choices=[
            ("", "If it is the first of its family"),
            ("yes", "Yes (the current main one stops being main)"),
            ("no", "No"),
        ],
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("pool") and cleaned.get("network"):
            raise ValidationError("Choose a pool or a network, not both.")
        return cleaned


class ReleaseIpForm(ServerForm):
    ip = forms.ModelChoiceField(label="Address", queryset=IpAddress.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.server is not None:
            self.fields["ip"].queryset = self.server.ip_addresses.order_by("family", "address")


def _allocate(actor: User, server: Server, data: dict) -> str:
    ip = ipam.allocate_ip(
        actor=actor,
        server=server,
        pool=data["pool"],
        network=data["network"],
        address=data["address"] or None,
        set_as_main={"yes": True, "no": False}.get(data["main"]),
    )
    main = " (main)" if ip.is_main else ""
    return format_html("{} allocated to {}{}.", ip.address, server.name, main)


def _release_ip(actor: User, server: Server, data: dict) -> str:
    address = data["ip"].address
    ipam.release_ip(actor=actor, ip=data["ip"])
    return format_html("{} released from {}.", address, server.name)


def _assign(actor: User, server: Server, data: dict) -> str:
    services.assign_owner(actor=actor, server=server, owner=data["owner"])
    return format_html("{} assigned to {}.", server.name, data["owner"].email)


def _release_owner(actor: User, server: Server, data: dict) -> str:
    services.release_owner(actor=actor, server=server)
    return format_html("{} released from its customer.", server.name)


INVENTORY_PAGE_ACTIONS = [
    PageAction(
        "assign", "Assign to a customer", OwnerForm, _assign, shown=lambda s: not s.owner_id
    ),
    PageAction(
        "release-owner",
        "Release from its customer",
        ServerForm,
        _release_owner,
        shown=lambda s: bool(s.owner_id),
        danger=True,
    ),
    PageAction("allocate-ip", "Allocate an IP address", AllocateIpForm, _allocate, inline=False),
    PageAction("release-ip", "Release an IP address", ReleaseIpForm, _release_ip, danger=True),
]
