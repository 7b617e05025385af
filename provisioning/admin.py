"""The server admin, with the actions that start operations: provisioning adds them to
inventory's admin, so that inventory imports nothing from provisioning."""

from django.contrib import admin

from inventory.admin import ServerAdmin
from inventory.models import Server
from provisioning.admin_actions import OPERATION_ACTIONS


class OperatedServerAdmin(ServerAdmin):
    actions = [*OPERATION_ACTIONS, *ServerAdmin.actions]


admin.site.unregister(Server)
admin.site.register(Server, OperatedServerAdmin)
