"""Staff actions on selected servers in the admin: each server goes through the same
service as the API and the portal (so it is checked and audited the same way), and the
result for every server is reported, refusals with their reason. The actions that start
operations are provisioning's (provisioning/admin_actions.py), built with `each_server`
and `ask_then_each_server` from here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from inventory import services
from inventory.admin_pages import OwnerForm
from panel.exceptions import PanelError, error_text


def each_server(modeladmin, request, queryset, done: str, change, describe=None) -> None:
    """Apply `change(server)` to every selected server; one message for what happened, each
    server named by `describe(server, what change returned)` (HTML-safe; its name if None)."""
    describe = describe or (lambda server, result: server.name)
    changed, refused = [], []
    for server in queryset.select_related("bmc", "owner", "profile"):
        try:
            result = change(server)
        except (PanelError, ValidationError) as exc:
            refused.append(f"{server.name}: {error_text(exc)}")
        else:
            changed.append((describe(server, result),))
    if changed:
        names = format_html_join(", ", "{}", changed)
        modeladmin.message_user(request, format_html("{}: {}.", done, names), messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, "Refused: " + " · ".join(refused), messages.ERROR)


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


def ask_then_each_server(
    modeladmin, request, queryset, form_class, title: str, done, change, describe=None
):
    """An action with an intermediate page: its form, then `change(server, data)` for each
    selected server with the form's cleaned data; `done(data)` names what happened."""
    form, page = _ask(modeladmin, request, queryset, form_class, title)
    if form is None:
        return page
    data = form.cleaned_data
    each_server(
        modeladmin, request, queryset, done(data), lambda server: change(server, data), describe
    )
    return None


@admin.action(description="Assign to a customer…")
def assign_owner(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        OwnerForm,
        "Assign to a customer",
        lambda data: f"Assigned to {data['owner'].email}",
        lambda server, data: services.assign_owner(
            actor=request.user, server=server, owner=data["owner"]
        ),
    )


@admin.action(description="Release from its customer")
def release_owner(modeladmin, request, queryset):
    each_server(
        modeladmin,
        request,
        queryset,
        "Released",
        lambda server: services.release_owner(actor=request.user, server=server),
    )


class ConfirmForm(forms.Form):
    """Nothing to fill in: the page lists the servers and asks to go ahead."""


@admin.action(description="Delete from inventory…", permissions=["delete"])
def delete_servers(modeladmin, request, queryset):
    return ask_then_each_server(
        modeladmin,
        request,
        queryset,
        ConfirmForm,
        "Delete from inventory",
        lambda data: "Deleted",
        lambda server, data: services.delete_server(actor=request.user, server=server),
    )


SERVER_ACTIONS = [
    assign_owner,
    release_owner,
    delete_servers,
]
