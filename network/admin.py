"""The switch and PDU admin with their discovery action: network adds it to inventory's admin,
so that inventory imports nothing from network."""

from django.contrib import admin, messages
from django.utils.text import capfirst

from inventory.admin import PduAdmin, SwitchAdmin
from inventory.models import Pdu, Switch
from network import discovery
from network.snmp import SnmpError


@admin.action(description="Discover ports / outlets (SNMP walk)")
def discover(modeladmin, request, queryset):
    for device in queryset:
        named = f"{capfirst(device._meta.verbose_name)} {device.name}"
        try:
            report = discovery.discover(actor=request.user, device=device)
        except SnmpError as exc:
            modeladmin.message_user(request, f"{named}: {exc.message}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{named}: {discovery.summary(report)}.")


class DiscoveredSwitchAdmin(SwitchAdmin):
    actions = [discover, *SwitchAdmin.actions]


class DiscoveredPduAdmin(PduAdmin):
    actions = [discover, *PduAdmin.actions]


for model, model_admin in ((Switch, DiscoveredSwitchAdmin), (Pdu, DiscoveredPduAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
